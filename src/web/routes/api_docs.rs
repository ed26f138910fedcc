//! `GET /api` (human documentation) and `GET /api/openapi.json` (machine description), both
//! embedded in the binary so a self-hosted server needs no asset folder.
//!
//! Both files are hand-written. The tests below hold the OpenAPI file to the code: each answer
//! it documents has the schema utoipa derives from the type the handler serializes, and each
//! operation lists exactly the query parameters its handler reads.

use std::sync::LazyLock;

use crate::web::cache_control::CachePolicy;
use crate::web::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub const API_HTML: &str = include_str!("../static/api.html");
/// [`API_HTML`] with its stylesheet at its content-hashed URL (no inline style: the page has the
/// site's Content-Security-Policy).
static API_PAGE: LazyLock<String> = LazyLock::new(|| {
    API_HTML.replace("href=\"/static/css/api.css\"", &format!("href=\"{}\"", crate::web::assets::url("css/api.css")))
});
pub const OPENAPI_JSON: &str = include_str!("../static/openapi.json");

/// Documentation changes only with a new binary; an hour of caching is harmless.
const CACHE: CachePolicy = CachePolicy::PublicHour;

#[tracing::instrument]
pub async fn api_page() -> Response {
    (CACHE, [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], API_PAGE.as_str())
        .into_response()
}

#[tracing::instrument]
pub async fn openapi() -> Response {
    (CACHE, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], OPENAPI_JSON).into_response()
}

/// The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes and the
/// types they serialize.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Carburoam API",
        version = "1.0.0",
        description = "Read-only JSON API over the official French fuel-price feed. Prices are euros per litre with three decimals; times are RFC 3339 in UTC; fuels are Gazole, SP95, E85, GPLc, E10, SP98 (case-insensitive, or their ids 1 to 6). Unknown query parameters are refused with 400. Successful responses may be cached for 60 seconds. Data: prix-carburants.gouv.fr, Ministère de l'Économie, under the Licence Ouverte 2.0 (Etalab).",
        license(name = "AGPL-3.0-or-later (software); data under Licence Ouverte 2.0", identifier = "AGPL-3.0-or-later"),
    ),
    external_docs(
        url = "https://www.prix-carburants.gouv.fr/rubrique/opendata/",
        description = "Data source: prix-carburants.gouv.fr (Licence Ouverte 2.0)"
    ),
    paths(
        crate::web::routes::health::healthz,
        crate::web::routes::api::nearby,
        crate::web::routes::api::station,
        crate::web::routes::api_history::history,
        crate::web::routes::api_history::trends,
        crate::web::routes::api::brands,
        crate::web::routes::api_route::get_route,
        crate::web::routes::api_route::post_route,
        crate::web::routes::api::status,
    ),
    components(schemas(FuelParam, DayParam, BrandName, ErrorJson)),
    modifiers(&RouteBodyAlternatives)
)]
pub struct ApiDoc;

/// `POST /api/v1/route`'s JSON body names its path by `points` or by `from` and `to`: an `anyOf`
/// of the two `required` lists beside the properties, which utoipa's `Object` has no field for
/// (it goes through the object's flattened extension map, which serializes any key).
struct RouteBodyAlternatives;

impl utoipa::Modify for RouteBodyAlternatives {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        let body = doc.components.as_mut().and_then(|c| c.schemas.get_mut("RouteBody"));
        if let Some(RefOr::T(Schema::Object(body))) = body {
            let alternatives = serde_json::json!([{"required": ["points"]}, {"required": ["from", "to"]}]);
            body.extensions.get_or_insert_with(Default::default).insert("anyOf".to_owned(), alternatives);
        }
    }
}

/// A `brand` query value: a name, not empty (an empty one is a 400).
pub struct BrandName;

impl utoipa::PartialSchema for BrandName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).into()
    }
}

impl utoipa::ToSchema for BrandName {}

/// A fuel as the query parameters read it (`Fuel::from_str`): a name in any case or the feed's id.
pub struct FuelParam;

impl utoipa::PartialSchema for FuelParam {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use crate::domain::Fuel;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let names = Fuel::ALL.iter().map(|f| f.name().to_owned());
        let lower = Fuel::ALL.iter().map(|f| f.name().to_lowercase());
        let ids = Fuel::ALL.iter().map(|f| f.id().to_string());
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Gazole, SP95, E85, GPLc, E10 or SP98, or the feed's id 1 to 6. The names are read in any case: \
                 the enum lists the two usual spellings.",
            ))
            .enum_values(Some(names.chain(lower).chain(ids)))
            .examples([serde_json::json!("Gazole"), serde_json::json!("e10"), serde_json::json!("6")])
            .into()
    }
}

impl utoipa::ToSchema for FuelParam {}

/// A day as the query parameters read it: `YYYY-MM-DD` from 2000 to 2199, or empty (as absent).
pub struct DayParam;

impl utoipa::PartialSchema for DayParam {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
        AnyOfBuilder::new()
            .description(Some(
                "A day YYYY-MM-DD, years 2000 to 2199. An empty value is the same as none (as for every query parameter).",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                    .pattern(Some("^2[01][0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")),
            )
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some([""])))
            .into()
    }
}

impl utoipa::ToSchema for DayParam {}

/// The error envelope of every API failure, as `web::error::ApiError` writes it.
#[derive(utoipa::ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)]
pub struct ErrorJson {
    error: ErrorBody,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorBody {
    code: ErrorCode,
    message: String,
}

/// `AppError::code()`'s values.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum ErrorCode {
    BadRequest,
    NotFound,
    Forbidden,
    TooManyRequests,
    Unprocessable,
    Unavailable,
    BadGateway,
    Internal,
}

/// The API's documentation and its OpenAPI description.
pub fn router() -> Router<AppState> {
    Router::new().route("/api", get(api_page)).route("/api/openapi.json", get(openapi))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    #[test]
    fn api_page_has_no_inline_style_and_a_hashed_stylesheet() {
        let page = super::API_PAGE.as_str();
        assert!(!page.contains("<style") && !page.contains("style="), "the CSP forbids inline styles");
        assert!(page.contains(&format!("href=\"{}\"", crate::web::assets::url("css/api.css"))));
    }

    /// The answer types' schemas, as utoipa derives them from the types the handlers serialize.
    #[derive(utoipa::OpenApi)]
    #[openapi(components(schemas(
        crate::web::routes::api::StationJson,
        crate::web::routes::api::NearbyJson,
        crate::web::routes::api::BrandsJson,
        crate::web::routes::api::StatusJson,
        crate::web::routes::api_history::HistoryJson,
        crate::web::routes::api_history::TrendsJson,
        crate::web::routes::api_route::RouteAnswerJson,
    )))]
    struct Answers;

    /// What a client relies on in a schema, with `$ref`s followed: the type (with `null` apart as
    /// `nullable`, whether written `["string", "null"]`, an enum with `null` or a one-of with
    /// `{"type": "null"}`), the enum values, the properties, which are required, the items, and
    /// the date formats. Descriptions, examples and integer widths are left out.
    fn shape(root: &Value, schema: &Value) -> Value {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let target = root.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {r}"));
            return shape(root, target);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alts) = schema.get(key).and_then(Value::as_array) {
                let (nulls, rest): (Vec<&Value>, Vec<&Value>) =
                    alts.iter().partition(|a| a.get("type") == Some(&json!("null")));
                if !nulls.is_empty() && rest.len() == 1 {
                    let mut inner = shape(root, rest[0]);
                    inner["nullable"] = json!(true);
                    return inner;
                }
            }
        }
        let mut out = serde_json::Map::new();
        let mut types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut nullable = types.contains(&"null");
        types.retain(|t| *t != "null");
        if !types.is_empty() {
            out.insert("type".into(), json!(types.join("|")));
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            nullable |= values.contains(&Value::Null);
            let mut names: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            names.sort_unstable();
            out.insert("enum".into(), json!(names));
        }
        if let Some(f) = schema.get("format").filter(|f| *f == "date" || *f == "date-time") {
            out.insert("format".into(), f.clone());
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            let props: serde_json::Map<String, Value> =
                props.iter().map(|(k, v)| (k.clone(), shape(root, v))).collect();
            out.insert("properties".into(), Value::Object(props));
            let mut required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            required.sort_unstable();
            out.insert("required".into(), json!(required));
        }
        if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
            out.insert("items".into(), shape(root, items));
        }
        if nullable {
            out.insert("nullable".into(), json!(true));
        }
        Value::Object(out)
    }

    /// Every answer of the hand-written document has the shape of the type its handler serializes.
    #[test]
    fn the_documented_answers_are_the_types_the_handlers_serialize() {
        use utoipa::OpenApi;
        let generated = serde_json::to_value(Answers::openapi()).expect("JSON");
        let documented: Value = serde_json::from_str(super::OPENAPI_JSON).expect("JSON");
        let answer = |path: &str, method: &str| {
            format!("/paths/{}/{method}/responses/200/content/application~1json/schema", path.replace('/', "~1"))
        };
        let pairs = [
            ("StationJson", answer("/api/v1/stations/{id}", "get")),
            ("NearbyJson", answer("/api/v1/stations", "get")),
            ("BrandsJson", answer("/api/v1/brands", "get")),
            ("StatusJson", answer("/api/v1/status", "get")),
            ("HistoryJson", answer("/api/v1/stations/{id}/history", "get")),
            ("TrendsJson", answer("/api/v1/trends", "get")),
            ("RouteAnswerJson", answer("/api/v1/route", "get")),
            ("RouteAnswerJson", answer("/api/v1/route", "post")),
        ];
        let mut differences = Vec::new();
        for (name, pointer) in pairs {
            let want = shape(&documented, documented.pointer(&pointer).unwrap_or_else(|| panic!("no {pointer}")));
            let got = shape(&generated, &generated["components"]["schemas"][name]);
            if got != want {
                differences.push(format!(
                    "{name} vs {pointer}:\n  type:     {}\n  document: {}",
                    serde_json::to_string(&got).unwrap_or_default(),
                    serde_json::to_string(&want).unwrap_or_default()
                ));
            }
        }
        assert!(differences.is_empty(), "{}", differences.join("\n"));
    }

    /// What a client relies on in an operation: its parameters (where, whether required, the
    /// schema's shape), its request body's media types and shapes, its answers' codes, media types
    /// and shapes. Descriptions, examples and bounds are left out.
    fn operations(doc: &Value) -> std::collections::BTreeMap<String, Value> {
        let follow = |v: &Value| -> Value {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {r}")).clone(),
                None => v.clone(),
            }
        };
        let contents = |v: &Value| -> Value {
            let v = follow(v);
            let media: serde_json::Map<String, Value> = v["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(t, c)| (t.clone(), shape(doc, &c["schema"])))
                .collect();
            Value::Object(media)
        };
        let mut out = std::collections::BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let params: serde_json::Map<String, Value> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let p = follow(p);
                        let name = p["name"].as_str().expect("name").to_owned();
                        let required = p.get("required").cloned().unwrap_or(json!(false));
                        (name, json!({"in": p["in"], "required": required, "schema": shape(doc, &p["schema"])}))
                    })
                    .collect();
                let responses: serde_json::Map<String, Value> = op["responses"]
                    .as_object()
                    .expect("responses")
                    .iter()
                    .map(|(code, r)| (code.clone(), contents(r)))
                    .collect();
                let body = op.get("requestBody").map(contents).unwrap_or(Value::Null);
                out.insert(
                    format!("{method} {path}"),
                    json!({"parameters": params, "requestBody": body, "responses": responses}),
                );
            }
        }
        out
    }

    /// The generated document describes what the hand-written one does.
    #[test]
    fn the_generated_document_agrees_with_the_hand_written_one() {
        use utoipa::OpenApi;
        let generated = serde_json::to_value(super::ApiDoc::openapi()).expect("JSON");
        let documented: Value = serde_json::from_str(super::OPENAPI_JSON).expect("JSON");
        let (got, want) = (operations(&generated), operations(&documented));
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "operations");
        let mut differences = Vec::new();
        for (op, want) in &want {
            for part in ["parameters", "requestBody", "responses"] {
                let mut keys: Vec<&String> = want[part].as_object().into_iter().flat_map(|o| o.keys()).collect();
                keys.extend(got[op][part].as_object().into_iter().flat_map(|o| o.keys()));
                keys.sort_unstable();
                keys.dedup();
                for key in keys {
                    let (g, w) = (&got[op][part][key], &want[part][key]);
                    if g != w {
                        differences.push(format!("{op} {part} {key}:\n  generated:    {g}\n  hand-written: {w}"));
                    }
                }
            }
        }
        assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));
    }

    /// The names of the query parameters the document gives an operation (`$ref`s followed).
    fn documented_query(doc: &Value, path: &str, method: &str) -> Vec<String> {
        let mut names: Vec<String> = doc["paths"][path][method]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| match p.get("$ref").and_then(Value::as_str) {
                Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {r}")),
                None => p,
            })
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        names.sort_unstable();
        names
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        names.sort_unstable();
        names
    }

    /// Every operation documents exactly the query parameters its handler reads (any other is a
    /// 400 there), and the route's JSON body exactly the fields the handler takes.
    #[test]
    fn the_documented_parameters_are_the_ones_the_handlers_read() {
        use crate::web::extract::FromQuery;
        use crate::web::routes::api::{NearbyParams, NoParams};
        use crate::web::routes::api_history::{HistoryParams, TrendsParams};
        use crate::web::routes::api_route::FIELDS;
        let doc: Value = serde_json::from_str(super::OPENAPI_JSON).expect("JSON");
        let nearby = [NearbyParams::PARAMS, &["brand"]].concat();
        // `department` is `dept`'s other spelling, described with it.
        let trends: Vec<&str> = TrendsParams::PARAMS.iter().copied().filter(|n| *n != "department").collect();
        let route_get = [FIELDS, &["from", "to", "via"]].concat();
        let expected: [(&str, &str, &[&str]); 8] = [
            ("/api/v1/stations", "get", &nearby),
            ("/api/v1/stations/{id}", "get", NoParams::PARAMS),
            ("/api/v1/stations/{id}/history", "get", HistoryParams::PARAMS),
            ("/api/v1/trends", "get", &trends),
            ("/api/v1/brands", "get", NoParams::PARAMS),
            ("/api/v1/status", "get", NoParams::PARAMS),
            ("/api/v1/route", "get", &route_get),
            ("/api/v1/route", "post", FIELDS),
        ];
        for (path, method, names) in expected {
            assert_eq!(documented_query(&doc, path, method), sorted(names), "{method} {path}");
        }
        let body = &doc["paths"]["/api/v1/route"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        let mut fields: Vec<String> = body["properties"].as_object().expect("properties").keys().cloned().collect();
        fields.sort_unstable();
        assert_eq!(fields, sorted(&[FIELDS, &["points", "from", "to", "via"]].concat()));
    }

    /// The document describes exactly the routes of the API's routers (`/api/v1/…`) and
    /// `/healthz`, with their methods: read from the route table of `docs/architecture.md`,
    /// which `web::tests::route_table_is_up_to_date` holds to the routers' declarations.
    #[test]
    fn the_documented_operations_are_the_routers_api_routes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let table = std::fs::read_to_string(root.join("docs/architecture.md")).expect("docs/architecture.md");
        let mut declared: Vec<String> = table
            .lines()
            .filter_map(|row| {
                let mut cells = row.split('|').map(str::trim).skip(1);
                let path = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
                let methods = cells.next()?;
                (path.starts_with("/api/v1/") || path == "/healthz")
                    .then(|| methods.split(", ").map(|m| format!("{} {path}", m.to_lowercase())).collect::<Vec<_>>())
            })
            .flatten()
            .collect();
        declared.sort_unstable();
        let doc: Value = serde_json::from_str(super::OPENAPI_JSON).expect("JSON");
        let mut documented: Vec<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, item)| {
                item.as_object().into_iter().flat_map(move |ops| ops.keys().map(move |m| format!("{m} {path}")))
            })
            .collect();
        documented.sort_unstable();
        assert_eq!(documented, declared);
    }

    #[test]
    fn openapi_is_valid_json() {
        let v: serde_json::Value = serde_json::from_str(super::OPENAPI_JSON).expect("JSON");
        assert_eq!(v["openapi"], "3.1.0");
    }
}
