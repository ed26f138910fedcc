#!/usr/bin/env python3
"""A careful peer loader for `carburoam bench --python-peer`: one national snapshot (ZIP or XML)
into a fresh SQLite file of its own schema, stations and current prices only. Streaming iterparse
(lxml when installed, else the standard library's ElementTree), one transaction, executemany.
Usage: peer_loader.py FEED DB. Prints one line: `peer: <ms> ms, <parser>, <stations>, <prices>`."""
import sqlite3, sys, time, zipfile

try:
    from lxml.etree import iterparse
    PARSER = "lxml"
except ImportError:  # the fallback is slower: the bench prints which one ran
    from xml.etree.ElementTree import iterparse
    PARSER = "ElementTree (pip install lxml for the peer the issue names)"

SCHEMA = """
CREATE TABLE stations (id INTEGER PRIMARY KEY, latitude REAL, longitude REAL, cp TEXT,
  pop TEXT, address TEXT, city TEXT);
CREATE TABLE prices (station_id INTEGER NOT NULL REFERENCES stations(id), fuel_id INTEGER NOT NULL,
  price_milli INTEGER NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (station_id, fuel_id));
"""

def coord(v):
    return float(v) / 100000 if v else None

def milli(v):  # euros with 3 decimals since 2015, thousandths before
    return round(float(v) * 1000) if "." in v else int(v)

def main(feed, db):
    t = time.perf_counter()
    with open(feed, "rb") as f:
        zipped = f.read(2) == b"PK"
    if zipped:  # one entry, whatever the file's name
        archive = zipfile.ZipFile(feed)
        src = archive.open(archive.namelist()[0])
    else:
        src = open(feed, "rb")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(SCHEMA)
    conn.execute("BEGIN")
    stations, prices = [], []
    for _, pdv in iterparse(src, events=("end",), tag="pdv") if PARSER == "lxml" else (
            (e, el) for e, el in iterparse(src, events=("end",)) if el.tag == "pdv"):
        a = pdv.attrib
        sid = int(a["id"])
        stations.append((sid, coord(a.get("latitude")), coord(a.get("longitude")), a.get("cp"),
                         a.get("pop"), (pdv.findtext("adresse") or "").strip(),
                         (pdv.findtext("ville") or "").strip()))
        for p in pdv.iter("prix"):
            v = p.get("valeur")
            if v and p.get("id") and p.get("maj"):
                prices.append((sid, int(p.get("id")), milli(v), p.get("maj").replace("T", " ")))
        pdv.clear()  # streaming: drop the station's subtree (and, with lxml, the emptied siblings)
        if PARSER == "lxml":
            while pdv.getprevious() is not None:
                del pdv.getparent()[0]
    conn.executemany("INSERT INTO stations VALUES (?, ?, ?, ?, ?, ?, ?)", stations)
    conn.executemany("INSERT OR REPLACE INTO prices VALUES (?, ?, ?, ?)", prices)
    conn.execute("COMMIT")
    conn.close()
    ms = (time.perf_counter() - t) * 1000
    print(f"peer: {ms:.1f} ms, {PARSER}, {len(stations)} stations, {len(prices)} prices")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
