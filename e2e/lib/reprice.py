"""Writes a copy of a feed file (ZIP or XML, as the ministry serves it) with one price changed.

    python3 reprice.py SRC DST STATION_ID DELTA_THOUSANDTHS SECONDS_LATER [FUEL]

The first price of station STATION_ID (or its FUEL price) gets DELTA thousandths of a euro added
and its update time moved SECONDS_LATER seconds later: the import sees a newer price. Everything
else stays byte for byte. Prints JSON: {"fuel", "old", "new", "maj"} (prices in thousandths).
Used by e2e/tests/alerts.test.mjs to import "the same feed, where one station dropped".
"""
import datetime
import json
import re
import sys
import zipfile

src, dst, station, delta, later = sys.argv[1:6]
fuel = sys.argv[6] if len(sys.argv) > 6 else None
delta, later = int(delta), int(later)
out = {}


def reprice(xml: bytes) -> bytes:
    block = re.search(rb'<pdv id="' + station.encode() + rb'".*?</pdv>', xml, re.S)
    if not block:
        sys.exit(f"station {station} is not in {src}")
    name = rb'[^"]+' if fuel is None else re.escape(fuel.encode())
    prix = re.compile(rb'<prix nom="(' + name + rb')" id="(\d+)" maj="([^"]+)" valeur="(\d+\.\d+)"\s*/>')
    m = prix.search(xml, block.start(), block.end())
    if not m:
        sys.exit(f"station {station} has no price {fuel or ''} in {src}")
    old = round(float(m.group(4)) * 1000)
    new = old + delta
    maj = datetime.datetime.strptime(m.group(3).decode().replace("T", " "), "%Y-%m-%d %H:%M:%S")
    maj = (maj + datetime.timedelta(seconds=later)).strftime("%Y-%m-%d %H:%M:%S")
    out.update(fuel=m.group(1).decode(), old=old, new=new, maj=maj)
    repl = b'<prix nom="%s" id="%s" maj="%s" valeur="%d.%03d"/>' % (m.group(1), m.group(2), maj.encode(), new // 1000, new % 1000)
    return xml[: m.start()] + repl + xml[m.end():]


if zipfile.is_zipfile(src):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.lower().endswith(".xml"):
                data = reprice(data)
            # The entry's time is the snapshot's time for the importer: keep it, moved as late
            # as the price (a copy dated "now" would age every other price out of the lists).
            when = datetime.datetime(*info.date_time) + datetime.timedelta(seconds=later)
            entry = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(entry, data)
else:
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(reprice(data))
print(json.dumps(out))
