//! GPX files as OsmAnd, Garmin and Google exports write them: the points of the tracks
//! (`trk/trkseg/trkpt`), else of the routes (`rte/rtept`). Waypoints, names, times and
//! extensions are ignored.
//!
//! Untrusted input: at most [`MAX_GPX_BYTES`] and [`super::MAX_POINTS`] points, a document
//! type declaration (the door to entity expansion) is refused, entities are never expanded
//! (coordinates are read as written), and every coordinate must be a number in range.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::{LatLon, MAX_POINTS, Path, PathError};

/// Largest GPX document accepted.
pub const MAX_GPX_BYTES: usize = 5 * 1024 * 1024;

/// Why a document is not a usable GPX path. The message names the problem for the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpxError {
    #[error("the GPX file is larger than 5 MB ({0} bytes)")]
    TooLarge(usize),
    #[error("the GPX file is empty")]
    Empty,
    #[error("not XML: {0}")]
    NotXml(String),
    #[error("not a GPX file: the root element is <{0}>, not <gpx>")]
    NotGpx(String),
    #[error("GPX files with a document type declaration (DTD) are refused")]
    Dtd,
    #[error("the GPX file has no track nor route points (trk/trkseg/trkpt or rte/rtept)")]
    NoPoints,
    #[error("the GPX file has more than {MAX_POINTS} points")]
    TooManyPoints,
    #[error("point {point}: attribute {attr} is missing")]
    Missing { point: usize, attr: &'static str },
    #[error("point {point}: {attr}={value:?} is not a number")]
    NotANumber { point: usize, attr: &'static str, value: String },
    #[error("point {point}: {source}")]
    OutOfRange { point: usize, source: PathError },
    #[error("the GPX path: {0}")]
    Path(PathError),
}

/// The path of a GPX document.
pub fn parse(doc: &[u8]) -> Result<Path, GpxError> {
    if doc.len() > MAX_GPX_BYTES {
        return Err(GpxError::TooLarge(doc.len()));
    }
    if doc.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(GpxError::Empty);
    }
    let mut reader = Reader::from_reader(doc);
    reader.config_mut().expand_empty_elements = false;
    let mut buf = Vec::new();
    // Element names open above the current one (local names).
    let mut stack: Vec<String> = Vec::new();
    let mut track: Vec<LatLon> = Vec::new();
    let mut route: Vec<LatLon> = Vec::new();
    let mut root_seen = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| GpxError::NotXml(format!("{e} at byte {}", reader.error_position())))?;
        match event {
            Event::Eof => break,
            Event::DocType(_) => return Err(GpxError::Dtd),
            Event::Start(e) if !root_seen => {
                stack.push(root(&e)?);
                root_seen = true;
            }
            Event::Empty(e) if !root_seen => {
                root(&e)?;
                root_seen = true;
            }
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                point(&e, &name, &stack, &mut track, &mut route)?;
                stack.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_owned();
                point(&e, &name, &stack, &mut track, &mut route)?;
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) if !root_seen && !t.as_ref().trim().is_empty() => {
                return Err(GpxError::NotXml("text before the root element".into()));
            }
            _ => {}
        }
        buf.clear();
    }
    if !root_seen {
        return Err(GpxError::NotXml("no root element".into()));
    }
    if !stack.is_empty() {
        return Err(GpxError::NotXml("the document ends before </gpx>".into()));
    }
    let points = if track.is_empty() { route } else { track };
    if points.is_empty() {
        return Err(GpxError::NoPoints);
    }
    Path::new(points).map_err(GpxError::Path)
}

/// The root element's local name, when it is `gpx`.
fn root(e: &BytesStart<'_>) -> Result<String, GpxError> {
    let name = e.local_name().as_ref().to_owned();
    if name != "gpx" {
        return Err(GpxError::NotGpx(name.chars().take(40).collect()));
    }
    Ok(name)
}

/// Records a `trkpt` inside `trk/trkseg` or an `rtept` inside `rte`.
fn point(
    e: &BytesStart<'_>,
    name: &str,
    stack: &[String],
    track: &mut Vec<LatLon>,
    route: &mut Vec<LatLon>,
) -> Result<(), GpxError> {
    let parent = |depth: usize| stack.len().checked_sub(depth).map(|i| stack[i].as_str());
    if track.len() + route.len() >= MAX_POINTS && matches!(name, "trkpt" | "rtept") {
        return Err(GpxError::TooManyPoints);
    }
    let list = match name {
        "trkpt" if parent(1) == Some("trkseg") && parent(2) == Some("trk") => track,
        "rtept" if parent(1) == Some("rte") => route,
        _ => return Ok(()),
    };
    let n = list.len() + 1;
    let (mut lat, mut lon) = (None, None);
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| GpxError::NotXml(format!("malformed attribute: {err}")))?;
        match a.key.local_name().as_ref() {
            "lat" => lat = Some(a.value.into_owned()),
            "lon" => lon = Some(a.value.into_owned()),
            _ => {}
        }
    }
    let num = |v: Option<String>, attr: &'static str| -> Result<f64, GpxError> {
        let s = v.ok_or(GpxError::Missing { point: n, attr })?;
        s.trim().parse::<f64>().map_err(|_| GpxError::NotANumber {
            point: n,
            attr,
            value: s.chars().take(40).collect(),
        })
    };
    let p =
        LatLon::new(num(lat, "lat")?, num(lon, "lon")?).map_err(|source| GpxError::OutOfRange { point: n, source })?;
    list.push(p);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="OsmAnd" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="1" lon="1"><name>ignored</name></wpt>
  <trk><name>A &amp; B</name><trkseg>
    <trkpt lat="48.1173" lon="-1.6778"><ele>50</ele><time>2025-02-07T07:30:00Z</time></trkpt>
    <trkpt lat="48.2" lon="-1.6"/>
  </trkseg><trkseg><trkpt lat="48.3" lon="-1.5"></trkpt></trkseg></trk>
</gpx>"#;

    #[test]
    fn tracks_and_routes() {
        let p = parse(TRACK.as_bytes()).expect("track");
        assert_eq!(p.points().len(), 3);
        assert_eq!(p.start(), LatLon { lat: 48.1173, lon: -1.6778 });
        let rte = r#"<gpx:gpx xmlns:gpx="http://www.topografix.com/GPX/1/1"><gpx:rte>
            <gpx:rtept lat="43.3" lon="5.4"/><gpx:rtept lat="45.76" lon="4.83"/></gpx:rte></gpx:gpx>"#;
        assert_eq!(parse(rte.as_bytes()).expect("route").points().len(), 2);
    }

    #[test]
    fn bad_documents_name_their_problem() {
        assert_eq!(parse(b"  "), Err(GpxError::Empty));
        assert!(matches!(parse(b"garbage <<"), Err(GpxError::NotXml(_))));
        assert!(matches!(parse(b"<kml><a/></kml>"), Err(GpxError::NotGpx(n)) if n == "kml"));
        assert_eq!(parse(b"<gpx><wpt lat=\"1\" lon=\"1\"/></gpx>"), Err(GpxError::NoPoints));
        let dtd = br#"<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "48.1">]><gpx><rte><rtept lat="&a;" lon="1"/></rte></gpx>"#;
        assert_eq!(parse(dtd), Err(GpxError::Dtd));
        let ent = br#"<gpx><rte><rtept lat="&a;" lon="1"/><rtept lat="1" lon="1"/></rte></gpx>"#;
        assert!(matches!(parse(ent), Err(GpxError::NotANumber { point: 1, attr: "lat", .. })), "{:?}", parse(ent));
        let out = br#"<gpx><rte><rtept lat="48" lon="2"/><rtept lat="95" lon="2"/></rte></gpx>"#;
        assert_eq!(parse(out), Err(GpxError::OutOfRange { point: 2, source: PathError::Latitude(95.0) }));
        let missing = br#"<gpx><rte><rtept lat="48"/></rte></gpx>"#;
        assert_eq!(parse(missing), Err(GpxError::Missing { point: 1, attr: "lon" }));
        let one = br#"<gpx><rte><rtept lat="48" lon="2"/></rte></gpx>"#;
        assert_eq!(parse(one), Err(GpxError::Path(PathError::TooFew(1))));
        assert!(matches!(parse(&vec![b' '; MAX_GPX_BYTES + 1]), Err(GpxError::TooLarge(_))));
        let mut many = String::from("<gpx><rte>");
        for _ in 0..=MAX_POINTS {
            many.push_str(r#"<rtept lat="48" lon="2"/>"#);
        }
        many.push_str("</rte></gpx>");
        assert_eq!(parse(many.as_bytes()), Err(GpxError::TooManyPoints));
        // Unclosed elements are not a complete document either.
        assert!(parse(br#"<gpx><rte><rtept lat="48" lon="2"/>"#).is_err());
    }
}
