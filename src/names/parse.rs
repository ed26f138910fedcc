//! Reading an Overpass answer: JSON (`[out:json]`, `{"elements":[{"type","id","tags","center"?}]}`)
//! or CSV with the header `ref:FR:prix-carburants,brand,name,operator,branch`. Pure: bytes in,
//! names out, no database.
//!
//! Every way an answer can be wrong gives one error and nothing else: an HTML page (Overpass
//! writes its errors so), a JSON cut short, an Overpass `remark` saying the query failed (a
//! timeout answers 200 with the elements found so far), a CSV with another header or a row of
//! the wrong width, bytes that are neither, or an answer naming no station at all.

use std::collections::BTreeMap;
use std::collections::hash_map::{Entry, HashMap};

use serde::Deserialize;

use crate::db::station_names::NewName;
use crate::domain::StationId;
use crate::domain::station_name::StationName;
use crate::names::canonical::{self, BrandIndex};

/// The OSM tag holding the feed id(s) of a station.
pub const REF_TAG: &str = "ref:FR:prix-carburants";

/// The one CSV header accepted (Overpass `[out:csv(...; true; ",")]` with these columns).
pub const CSV_HEADER: [&str; 5] = [REF_TAG, "brand", "name", "operator", "branch"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the answer is an HTML page, not Overpass JSON or CSV{}", detail(.0))]
    Html(Option<String>),
    #[error("the Overpass answer is cut short (truncated JSON: {0})")]
    Truncated(String),
    #[error("the Overpass query failed: {0}")]
    OverpassRemark(String),
    #[error("not an Overpass JSON answer: {0}")]
    BadJson(String),
    #[error("the CSV header is {found:?}; expected \"ref:FR:prix-carburants,brand,name,operator,branch\"")]
    CsvHeader { found: String },
    #[error("bad CSV at line {line}: {cause}")]
    BadCsv { line: u64, cause: String },
    #[error("neither Overpass JSON nor CSV (binary or non-UTF-8 data)")]
    Garbage,
    #[error("the answer names no station: {rows} row(s), none with a valid ref:FR:prix-carburants")]
    Empty { rows: usize },
}

fn detail(d: &Option<String>) -> String {
    d.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
}

/// One station's names, as read from one OSM object.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// Rows (CSV) or elements (JSON) read.
    pub rows: usize,
    /// One entry per feed id, in the order first seen.
    pub names: Vec<NewName>,
    /// Refs that are not feed ids (`12a`, `-`), counted once per ref.
    pub invalid_refs: usize,
    /// Rows or elements without a `ref:FR:prix-carburants`.
    pub rows_without_ref: usize,
    /// Feed ids named by more than one object (the most complete one is kept).
    pub duplicate_refs: usize,
    /// Rows whose brand the name-suggestion-index recognised.
    pub brands_matched: usize,
}

#[derive(Deserialize)]
struct OverpassJson {
    elements: Option<Vec<Element>>,
    #[serde(default)]
    remark: Option<String>,
}

#[derive(Deserialize)]
struct Element {
    #[serde(rename = "type")]
    kind: String,
    id: i64,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Parses an Overpass answer, JSON or CSV (sniffed from the content, not the file name).
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    parse_with(canonical::index(), bytes)
}

/// [`parse`] with a given brand index.
pub fn parse_with(index: &BrandIndex, bytes: &[u8]) -> Result<Parsed, ParseError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    let body = &body[start..];
    let mut acc = Accumulator::new(index);
    match body.first() {
        None => return Err(ParseError::Empty { rows: 0 }),
        Some(b'{') => parse_json(body, &mut acc)?,
        Some(b'<') => return Err(ParseError::Html(html_error(body))),
        Some(_) => parse_csv(body, &mut acc)?,
    }
    acc.finish()
}

fn parse_json(body: &[u8], acc: &mut Accumulator) -> Result<(), ParseError> {
    let answer: OverpassJson = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() { ParseError::Truncated(e.to_string()) } else { ParseError::BadJson(e.to_string()) }
    })?;
    if let Some(remark) = answer.remark.filter(|r| r.contains("error")) {
        return Err(ParseError::OverpassRemark(remark));
    }
    let elements = answer.elements.ok_or_else(|| ParseError::BadJson("no \"elements\" array".into()))?;
    for el in elements {
        let osm = (!el.kind.is_empty()).then(|| (el.kind.clone(), el.id));
        let get = |k: &str| el.tags.get(k).map(String::as_str);
        let fields = [get(REF_TAG), get("brand"), get("name"), get("operator"), get("branch")];
        let tags = serde_json::to_string(&el.tags).unwrap_or_else(|_| "{}".into());
        acc.add(fields, osm, tags);
    }
    Ok(())
}

fn parse_csv(body: &[u8], acc: &mut Accumulator) -> Result<(), ParseError> {
    if std::str::from_utf8(body).is_err() || body.contains(&0) {
        return Err(ParseError::Garbage);
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
    let header = reader.headers().map_err(|e| ParseError::BadCsv { line: 1, cause: e.to_string() })?.clone();
    if header.iter().map(str::trim).ne(CSV_HEADER.iter().copied()) {
        let found = header.iter().collect::<Vec<_>>().join(",");
        return Err(ParseError::CsvHeader { found: found.chars().take(120).collect() });
    }
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                let cause = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("{len} field(s), expected {expected_len} (a cut or malformed row)")
                    }
                    _ => e.to_string(),
                };
                return Err(ParseError::BadCsv { line, cause });
            }
        }
        let field = |i: usize| record.get(i);
        let fields = [field(0), field(1), field(2), field(3), field(4)];
        let tags: BTreeMap<&str, &str> =
            CSV_HEADER.iter().zip(record.iter()).filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| (*k, v)).collect();
        let tags = serde_json::to_string(&tags).unwrap_or_else(|_| "{}".into());
        acc.add(fields, None, tags);
    }
    Ok(())
}

/// The error text of an Overpass HTML error page (`<p><strong …>Error</strong>: runtime error:
/// …</p>`), else its `<title>`, shortened.
fn html_error(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let pick = text
        .find("Error</strong>:")
        .map(|i| &text[i + "Error</strong>:".len()..])
        .and_then(|rest| rest.split("</p>").next())
        .or_else(|| text.find("<title>").and_then(|i| text[i + 7..].split("</title>").next()))?;
    let mut plain = String::new();
    let mut in_tag = false;
    for c in pick.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    (!plain.is_empty()).then(|| plain.chars().take(200).collect())
}

struct Accumulator<'a> {
    index: &'a BrandIndex,
    rows: usize,
    by_id: HashMap<StationId, usize>,
    names: Vec<(NewName, bool)>,
    invalid_refs: usize,
    rows_without_ref: usize,
    duplicate_refs: usize,
}

fn clean(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// How complete a name is, to choose between two objects carrying the same ref.
fn completeness(n: &NewName) -> (bool, bool, usize) {
    let s = &n.name;
    let filled = [&s.name, &s.operator, &s.branch].iter().filter(|f| f.is_some()).count();
    (s.osm_brand.is_some(), s.name.is_some(), filled)
}

impl<'a> Accumulator<'a> {
    fn new(index: &'a BrandIndex) -> Self {
        Accumulator {
            index,
            rows: 0,
            by_id: HashMap::new(),
            names: Vec::new(),
            invalid_refs: 0,
            rows_without_ref: 0,
            duplicate_refs: 0,
        }
    }

    /// One object: `[ref, brand, name, operator, branch]`, its OSM type and id, its tags as JSON.
    fn add(&mut self, fields: [Option<&str>; 5], osm: Option<(String, i64)>, tags: String) {
        self.rows += 1;
        let [refs, brand, name, operator, branch] = fields;
        let Some(refs) = refs.map(str::trim).filter(|r| !r.is_empty()) else {
            self.rows_without_ref += 1;
            return;
        };
        let canon = self.index.canonical(brand, name, operator);
        let station_name = StationName {
            brand_wikidata: canon.brand.as_ref().and_then(|b| b.wikidata.clone()),
            brand: canon.brand.map(|b| b.name),
            osm_brand: clean(brand),
            name: clean(name),
            operator: clean(operator),
            branch: clean(branch),
        };
        for r in refs.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let Some(id) = StationId::parse(r) else {
                self.invalid_refs += 1;
                continue;
            };
            let entry = NewName {
                station_id: id,
                name: station_name.clone(),
                osm_type: osm.as_ref().map(|o| o.0.clone()),
                osm_id: osm.as_ref().map(|o| o.1),
                tags: tags.clone(),
            };
            match self.by_id.entry(id) {
                Entry::Vacant(v) => {
                    v.insert(self.names.len());
                    self.names.push((entry, canon.matched));
                }
                Entry::Occupied(o) => {
                    self.duplicate_refs += 1;
                    let kept = &mut self.names[*o.get()];
                    if completeness(&entry) > completeness(&kept.0) {
                        *kept = (entry, canon.matched);
                    }
                }
            }
        }
    }

    fn finish(self) -> Result<Parsed, ParseError> {
        if self.names.is_empty() {
            return Err(ParseError::Empty { rows: self.rows });
        }
        let brands_matched = self.names.iter().filter(|(_, m)| *m).count();
        Ok(Parsed {
            rows: self.rows,
            names: self.names.into_iter().map(|(n, _)| n).collect(),
            invalid_refs: self.invalid_refs,
            rows_without_ref: self.rows_without_ref,
            duplicate_refs: self.duplicate_refs,
            brands_matched,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_multi_refs_invalid_and_duplicates() {
        let csv = "ref:FR:prix-carburants,brand,name,operator,branch\n\
                   1000001;1000002,Total Access,,,\n\
                   12a,Esso,,,\n\
                   ,Shell,Shell,,\n\
                   1000003,,\"Station Service, E.Leclerc\",,\n\
                   1000001,TotalEnergies,Relais du Lac,,Lac\n";
        let p = parse(csv.as_bytes()).expect("parses");
        assert_eq!(p.rows, 5);
        assert_eq!(p.invalid_refs, 1);
        assert_eq!(p.rows_without_ref, 1);
        assert_eq!(p.duplicate_refs, 1);
        let ids: Vec<i64> = p.names.iter().map(|n| n.station_id.get()).collect();
        assert_eq!(ids, [1000001, 1000002, 1000003]);
        // The more complete object wins the duplicated ref.
        assert_eq!(p.names[0].name.name.as_deref(), Some("Relais du Lac"));
        assert_eq!(p.names[1].name.brand.as_deref(), Some("TotalEnergies"));
        assert_eq!(p.names[1].name.osm_brand.as_deref(), Some("Total Access"));
        assert_eq!(p.names[2].name.brand.as_deref(), Some("E.Leclerc"));
        assert_eq!(p.names[1].tags, r#"{"brand":"Total Access","ref:FR:prix-carburants":"1000001;1000002"}"#);
    }

    #[test]
    fn json_elements() {
        let json = r#"{"version":0.6,"elements":[
            {"type":"node","id":42,"lat":45.0,"lon":5.0,"tags":{"amenity":"fuel","brand":"E. Leclerc","ref:FR:prix-carburants":"1000001"}},
            {"type":"way","id":7,"center":{"lat":45.0,"lon":5.0},"tags":{"amenity":"fuel","name":"Garage"}}
        ]}"#;
        let p = parse(json.as_bytes()).expect("parses");
        assert_eq!((p.rows, p.rows_without_ref, p.names.len()), (2, 1, 1));
        let n = &p.names[0];
        assert_eq!((n.osm_type.as_deref(), n.osm_id), (Some("node"), Some(42)));
        assert_eq!(n.name.brand.as_deref(), Some("E.Leclerc"));
        assert_eq!(n.name.brand_wikidata.as_deref(), Some("Q1273376"));
        assert!(n.tags.contains("\"amenity\":\"fuel\""));
    }

    #[test]
    fn every_bad_input_is_one_error() {
        let e = |b: &[u8]| parse(b).expect_err("must fail");
        assert!(matches!(e(br#"{"elements":[{"type":"node","id":1,"tags":{"#), ParseError::Truncated(_)));
        assert!(matches!(e(b"{\"elements\": 3}"), ParseError::BadJson(_)));
        assert!(matches!(e(b"{\"foo\": []}"), ParseError::BadJson(_)));
        assert_eq!(
            e(b"<html><body><p><strong style=\"color:#FF0000\">Error</strong>: runtime error: Query timed out</p></body></html>"),
            ParseError::Html(Some("runtime error: Query timed out".into()))
        );
        let remark =
            br#"{"elements":[],"remark":"runtime error: Query timed out in \"query\" at line 3 after 180 seconds."}"#;
        assert!(matches!(e(remark), ParseError::OverpassRemark(_)));
        assert!(matches!(e(b"id,brand\n1,Total\n"), ParseError::CsvHeader { .. }));
        assert!(matches!(
            e(b"ref:FR:prix-carburants,brand,name,operator,branch\n1000001,Total\n"),
            ParseError::BadCsv { line: 2, .. }
        ));
        assert_eq!(e(b"PK\x03\x04\x00\x00\xff\xfe"), ParseError::Garbage);
        assert_eq!(e(b""), ParseError::Empty { rows: 0 });
        assert_eq!(e(b"{\"elements\":[]}"), ParseError::Empty { rows: 0 });
        assert_eq!(e(b"ref:FR:prix-carburants,brand,name,operator,branch\n"), ParseError::Empty { rows: 0 });
        assert_eq!(
            e(b"ref:FR:prix-carburants,brand,name,operator,branch\nabc,Total,,,\n"),
            ParseError::Empty { rows: 1 }
        );
    }
}
