//! `/tendances` (`/trends`): national and département daily averages per fuel over a chosen
//! period; the station page's history chart ([`station_chart`]); the weekday line of `/me`
//! ([`me_weekday_lines`]). Everything is server-rendered (a GET form, links, an SVG chart and
//! tables); `js/chart.js` redraws the charts with the vendored uPlot when scripts run.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use crate::db::series as s;
use crate::domain::series::{Day, NATIONAL, day_of, day_start};
use crate::domain::{Fuel, Lang, StationId, department_label};
use crate::error::AppError;
use crate::history::series::{NationalFigure, Point, Step, aggregate, aggregate_closes, national_figure};
use crate::history::weekday::{self, WEEKS};
use crate::web::cache::{DailyLine, Freshness};
use crate::web::page::{HtmlError, HtmlResult, Layout, Lenient, cached_page, freshness, layout, reference_time};
use crate::web::routes::api_history::department_code;
use crate::web::state::AppState;
use crate::web::svg::{self, Line};
use crate::web::versioned::{Key, Weigh};

/// A choice of a select or a link row.
#[derive(Clone)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A period: its key in URLs, its length in days (`None`: everything), the step of its points.
struct Period {
    key: &'static str,
    days: Option<Day>,
    step: Step,
}

const STATION_RANGES: [Period; 4] = [
    Period { key: "30d", days: Some(30), step: Step::Day },
    Period { key: "1y", days: Some(365), step: Step::Day },
    Period { key: "5y", days: Some(5 * 365 + 1), step: Step::Week },
    // Its step follows the station's span (`Step::for_span`).
    Period { key: "all", days: None, step: Step::Month },
];

const TREND_PERIODS: [Period; 5] = [
    Period { key: "1m", days: Some(31), step: Step::Day },
    Period { key: "3m", days: Some(92), step: Step::Day },
    Period { key: "1y", days: Some(365), step: Step::Day },
    Period { key: "5y", days: Some(5 * 365 + 1), step: Step::Week },
    Period { key: "all", days: None, step: Step::Month },
];

fn pick<'a>(list: &'a [Period], key: Option<&str>, default: usize) -> &'a Period {
    key.and_then(|k| list.iter().find(|p| p.key == k)).unwrap_or(&list[default])
}

/// JSON for `js/chart.js`: x in Unix seconds (start of each day) and its name in the page's
/// language (`x_label`, the legend's and the cursor's), one array per series, euros; `null`
/// where a series has no value. Safe inside `<script type="application/json">`.
fn chart_json(
    x_label: &str,
    days: &[Day],
    series: &[(String, &'static str, BTreeMap<Day, i32>)],
    band: Option<(usize, usize)>,
) -> String {
    let x: Vec<i64> = days.iter().map(|&d| day_start(d)).collect();
    let list: Vec<serde_json::Value> = series
        .iter()
        .map(|(label, kind, values)| {
            let v: Vec<Option<f64>> = days.iter().map(|d| values.get(d).map(|&p| f64::from(p) / 1000.0)).collect();
            json!({ "label": label, "kind": kind, "values": v })
        })
        .collect();
    json!({ "x": x, "x_label": x_label, "series": list, "band": band }).to_string().replace("</", "<\\/")
}

// ---------------------------------------------------------------------------------------------
// The station page's chart

/// What the station page shows of the history of one fuel.
#[derive(Clone)]
pub struct StationChart {
    pub fuel: &'static str,
    pub fuels: Vec<Opt>,
    pub ranges: Vec<Opt>,
    pub range: &'static str,
    pub label: String,
    pub svg: String,
    pub json: String,
    /// "From … at the lowest to … at the highest", the period's min and max.
    pub extremes: Option<String>,
    pub weekday: Option<String>,
    pub weekday_not_yet: bool,
    pub legend: Vec<(&'static str, String)>,
}

/// The whole daily-average line of an area, from the page cache when the data version (imports
/// and series rebuilds) has not moved.
async fn area_line(state: &AppState, fuel: Fuel, area: &str) -> Result<DailyLine, AppError> {
    let cache = &state.cache.area_series;
    // Read before the line: a rebuild committing in between moves the version again.
    let version = state.index.current().data_version();
    if let Some(line) = cache.get(version, fuel.id(), area) {
        return Ok(line);
    }
    let line: DailyLine = Arc::new(s::averages(&state.db, fuel.id(), area, Day::MIN, Day::MAX).await?);
    cache.put(version, fuel.id(), area, line.clone());
    Ok(line)
}

/// The history chart of a station: `fuels` it sells, the visitor's `raw` query (`fuel`,
/// `range`), its département; the last day is the newest snapshot's.
pub async fn station_chart(
    state: &AppState,
    lang: Lang,
    id: StationId,
    department: &str,
    fuels: &[&'static str],
    raw: &Option<String>,
) -> Result<Option<StationChart>, AppError> {
    let mut fuels = fuels.to_vec();
    if fuels.is_empty() {
        // A station gone from the feed: the fuels of its history.
        let ids = s::station_fuels(&state.db, id).await?;
        fuels = ids.into_iter().filter_map(|f| Fuel::from_id(f.into())).map(Fuel::name).collect();
    }
    let Some(&default_fuel) = fuels.first() else { return Ok(None) };
    let mut q = Lenient::new(raw);
    let fuel_name = q.str("fuel").and_then(|f| fuels.iter().copied().find(|x| x.eq_ignore_ascii_case(&f)));
    let fuel_name = fuel_name.unwrap_or(default_fuel);
    let fuel: Fuel = fuel_name.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    let range = pick(&STATION_RANGES, q.str("range").as_deref(), 0);
    let f = freshness(state).await?;
    let last = day_of(reference_time(&f));
    let from = range.days.map(|n| last - n + 1);
    // One read of the station's change points up to the last day: the chart, the period's
    // extremes and the weekday line all come from it.
    let points = s::station_points(&state.db, id, fuel.id(), day_start(last + 1)).await?;
    let first_day = points.first().map(|p| day_of(p.0));
    let closes = match first_day {
        Some(f) => crate::history::series::closes(&points, from.unwrap_or(f).max(f), last),
        None => Vec::new(),
    };
    let first = from.or(closes.first().map(|c| c.0)).unwrap_or(last);
    let h = lang.texts().history;

    let step = if range.days.is_some() { range.step } else { Step::for_span(last - first + 1) };
    let mine = aggregate_closes(&closes, step);
    // Only the averages of the area lines are drawn: grouped as a station's closes are.
    let area_points = |line: DailyLine| {
        let (lo, hi) = (line.partition_point(|p| p.0 < first), line.partition_point(|p| p.0 <= last));
        aggregate_closes(&line[lo..hi.max(lo)], step)
    };
    let dept = if department.is_empty() { Vec::new() } else { area_points(area_line(state, fuel, department).await?) };
    let national = area_points(area_line(state, fuel, NATIONAL).await?);
    let as_line = |p: &[Point]| p.iter().map(|x| (x.day, x.average)).collect::<Vec<_>>();
    let (mine_l, dept_l, nat_l) = (as_line(&mine), as_line(&dept), as_line(&national));
    let svg = svg::chart(
        &[
            Line { points: &nat_l, class: "line national" },
            Line { points: &dept_l, class: "line dept" },
            Line { points: &mine_l, class: "line station" },
        ],
        &[],
        "station-chart-svg",
    );
    let mut days: Vec<Day> = mine_l.iter().chain(&dept_l).chain(&nat_l).map(|p| p.0).collect();
    days.sort_unstable();
    days.dedup();
    let legend = vec![
        ("station", h.line_station.to_owned()),
        ("dept", (h.line_dept)(department)),
        ("national", h.line_national.to_owned()),
    ];
    let json = chart_json(
        h.col_date,
        &days,
        &[
            (legend[0].1.clone(), "station", mine_l.iter().copied().collect()),
            (legend[1].1.clone(), "faint", dept_l.iter().copied().collect()),
            (legend[2].1.clone(), "faint", nat_l.iter().copied().collect()),
        ],
        None,
    );
    let extremes = match (closes.iter().map(|c| c.1).min(), closes.iter().map(|c| c.1).max()) {
        (Some(lo), Some(hi)) => Some((h.period_range)(&lang.price(lo), &lang.price(hi))),
        _ => None,
    };
    let cheapest = weekday::cheapest(&[weekday::window_closes(&points, last)], last);
    let weeks_of_data = first_day.is_some_and(|d| d <= last - WEEKS * 7 + 1);
    let opt = |value: &str, label: String, selected: bool| Opt { value: value.to_owned(), label, selected };
    let range_labels = [h.range_30d, h.range_1y, h.range_5y, h.range_all];
    Ok(Some(StationChart {
        fuel: fuel_name,
        fuels: fuels.iter().map(|f| opt(f, (*f).to_owned(), *f == fuel_name)).collect(),
        ranges: STATION_RANGES
            .iter()
            .zip(range_labels)
            .map(|(p, label)| opt(p.key, label.to_owned(), p.key == range.key))
            .collect(),
        range: range.key,
        label: (h.chart_label)(fuel_name),
        svg,
        json,
        extremes,
        weekday: cheapest.map(|c| weekday::sentence(lang, &c, false)),
        weekday_not_yet: cheapest.is_none() && !weeks_of_data,
        legend,
    }))
}

// ---------------------------------------------------------------------------------------------
// The home page's national figures

/// Every fuel's national average on the newest day of the series (up to the newest snapshot's
/// day) and its change over a week, from the national lines (cached per data version).
pub async fn national_figures(state: &AppState, version: &Freshness) -> Result<Vec<NationalFigure>, AppError> {
    let last = day_of(reference_time(version));
    let mut out = Vec::with_capacity(Fuel::ALL.len());
    for fuel in Fuel::ALL {
        let line = area_line(state, fuel, NATIONAL).await?;
        out.extend(national_figure(fuel, &line, last));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// /me

/// `/me`'s weekday lines: per fuel the user follows, which day has been cheapest at their
/// stations over the last 8 weeks.
pub async fn me_weekday_lines(state: &AppState, lang: Lang, stations: &[StationId], fuels: &[Fuel]) -> Vec<String> {
    let last = match freshness(state).await {
        Ok(f) => day_of(reference_time(&f)),
        Err(_) => return Vec::new(),
    };
    weekday::me_lines(&state.db, lang, stations, fuels, last)
        .await
        .into_iter()
        .map(|(f, line)| format!("{f}{} {line}", lang.strings().colon))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// /tendances, /trends

#[derive(Clone)]
pub struct RowView {
    pub date: String,
    pub average: String,
    pub min: String,
    pub max: String,
    pub stations: i32,
}

#[derive(Clone)]
pub struct DeptView {
    pub code: String,
    /// "29 Finistère".
    pub label: String,
    pub href: String,
    pub average: String,
    pub change: String,
    pub change_class: &'static str,
    pub spark: String,
}

#[derive(Template, Clone)]
#[template(path = "trends.html")]
pub struct TrendsPage {
    pub l: Layout,
    pub path: &'static str,
    pub fuels: Vec<Opt>,
    pub areas: Vec<Opt>,
    pub periods: Vec<Opt>,
    pub title: String,
    pub svg: String,
    pub json: String,
    pub extremes: Option<String>,
    pub rows: Vec<RowView>,
    pub cheapest: Option<String>,
    pub dearest: Option<String>,
    pub weekday: Option<String>,
    pub depts: Vec<DeptView>,
}

fn day_label(lang: Lang, d: Day) -> String {
    lang.date(day_start(d) + 12 * 3600)
}

impl Weigh for TrendsPage {
    fn weight(&self) -> usize {
        let opts = |o: &[Opt]| o.iter().map(|o| o.value.len() + o.label.len() + 64).sum::<usize>();
        self.svg.len()
            + self.json.len()
            + self.title.len()
            + opts(&self.fuels)
            + opts(&self.areas)
            + opts(&self.periods)
            + self.rows.iter().map(|r| r.date.len() + r.average.len() + r.min.len() + r.max.len() + 128).sum::<usize>()
            + self.depts.iter().map(|d| d.href.len() + d.spark.len() + d.code.len() + 160).sum::<usize>()
    }
}

#[tracing::instrument(skip(state, headers))]
pub async fn trends_page(
    State(state): State<AppState>,
    lang: Lang,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    let r = async {
        let path = if uri.path() == "/trends" { "/trends" } else { "/tendances" };
        let mut q = Lenient::new(&raw);
        let fuel = q.fuel("fuel").unwrap_or(Fuel::Gazole);
        let dept = q.str("dept").and_then(|d| department_code(&d));
        let period = pick(&TREND_PERIODS, q.str("period").as_deref(), 1);
        let (f, index) = tokio::try_join!(freshness(&state), async { Ok(state.index.get().await?) })?;
        let here = match raw.as_deref() {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_owned(),
        };
        let l = layout(lang, format!("{} — Carburoam", lang.texts().history.trends_title), "trends", here, &f);
        // Everything but the layout depends on the data and these parameters only.
        let key =
            Key::Trends { path, lang, fuel, dept: dept.clone(), period: period.key, last: day_of(reference_time(&f)) };
        let data = || async {
            let neutral = l.shared();
            let data = async { trends_data(&state, lang, path, fuel, dept, period, &f, neutral).await };
            state.cache.data.get_or_try(index.data_version(), key.clone(), || data).await
        };
        cached_page(&state, index.data_version(), key.clone(), &l, &headers, |l| async {
            Ok(TrendsPage { l, ..(*data().await?).clone() })
        })
        .await
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

/// The trends page of `fuel` in `dept` (the country when `None`) over `period`, with `l` for
/// layout.
#[allow(clippy::too_many_arguments)]
async fn trends_data(
    state: &AppState,
    lang: Lang,
    path: &'static str,
    fuel: Fuel,
    dept: Option<String>,
    period: &'static Period,
    f: &Freshness,
    l: Layout,
) -> Result<TrendsPage, AppError> {
    {
        let h = lang.texts().history;
        let span = s::span(&state.db, fuel.id()).await?;
        let last = span.map_or_else(|| day_of(reference_time(f)), |s| s.1);
        let first = period.days.map_or(span.map_or(last, |s| s.0), |n| last - n + 1);
        let area = dept.clone().unwrap_or_else(|| NATIONAL.to_owned());
        let rows = s::days(&state.db, fuel.id(), &area, first, last).await?;
        let points = aggregate(&rows, period.step);
        let avg_l: Vec<(Day, i32)> = points.iter().map(|p| (p.day, p.average)).collect();
        // The band from the 10th to the 90th percentile: min and max (in the table) are a few
        // outliers' prices, far from where most stations are.
        let band: Vec<(Day, i32, i32)> = points.iter().map(|p| (p.day, p.p10, p.p90)).collect();
        let svg = svg::chart(&[Line { points: &avg_l, class: "line station" }], &band, "trend-chart-svg");
        let days: Vec<Day> = points.iter().map(|p| p.day).collect();
        let area_name = match &dept {
            Some(d) => format!("{} {}", h.dept_prefix, department_label(d)),
            None => h.whole_country.to_owned(),
        };
        let json = chart_json(
            h.col_date,
            &days,
            &[
                (h.col_average.to_owned(), "station", avg_l.iter().copied().collect()),
                (h.col_p10.to_owned(), "band", band.iter().map(|b| (b.0, b.1)).collect()),
                (h.col_p90.to_owned(), "band", band.iter().map(|b| (b.0, b.2)).collect()),
            ],
            Some((1, 2)),
        );
        let extremes = match (points.iter().map(|p| p.average).min(), points.iter().map(|p| p.average).max()) {
            (Some(lo), Some(hi)) => Some((h.period_range)(&lang.price(lo), &lang.price(hi))),
            _ => None,
        };

        // The départements on the last 30 days: today's average, its week change, a sparkline.
        let mut by_dept: BTreeMap<String, Vec<(Day, i32)>> = BTreeMap::new();
        for (code, day, avg) in s::departments(&state.db, fuel.id(), last - 30, last).await? {
            by_dept.entry(code).or_default().push((day, avg));
        }
        let mut depts: Vec<(i32, DeptView)> = by_dept
            .into_iter()
            .filter_map(|(code, pts)| {
                let today = pts.iter().find(|p| p.0 == last)?.1;
                let week = pts.iter().find(|p| p.0 == last - 7).map(|p| today - p.1);
                let href = format!("{path}?fuel={}&dept={code}&period={}", fuel.name(), period.key);
                Some((
                    today,
                    DeptView {
                        href,
                        average: lang.price(today),
                        change: week.map_or_else(|| "—".to_owned(), |c| lang.price_change(c)),
                        change_class: match week {
                            Some(c) if c < 0 => "good",
                            Some(c) if c > 0 => "bad",
                            _ => "",
                        },
                        spark: svg::sparkline(&pts),
                        label: department_label(&code),
                        code,
                    },
                ))
            })
            .collect();
        depts.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.code.cmp(&b.1.code)));
        let cheapest = depts.first().map(|(_, d)| (h.cheapest_dept)(&d.label, &d.average));
        let dearest = depts.last().filter(|_| depts.len() > 1).map(|(_, d)| (h.dearest_dept)(&d.label, &d.average));
        let nat = s::days(&state.db, fuel.id(), NATIONAL, last - WEEKS * 7 + 1, last).await?;
        let nat_closes: Vec<(Day, i32)> = nat.iter().map(|r| (r.day, r.average)).collect();
        let weekday = weekday::cheapest(&[nat_closes], last).map(|c| {
            let cents = lang.cents(c.delta);
            (h.weekday_national)(lang.day_name(c.weekday), &cents)
        });

        let mut areas = vec![Opt { value: String::new(), label: h.whole_country.to_owned(), selected: dept.is_none() }];
        areas.extend(
            depts.iter().map(|(_, d)| d.code.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().map(
                |code| Opt {
                    label: department_label(&code),
                    selected: dept.as_deref() == Some(code.as_str()),
                    value: code,
                },
            ),
        );
        if let Some(d) = &dept
            && !areas.iter().any(|a| a.value == *d)
        {
            areas.push(Opt { value: d.clone(), label: department_label(d), selected: true });
        }
        let period_labels = [h.period_1m, h.period_3m, h.period_1y, h.period_5y, h.period_all];
        Ok(TrendsPage {
            l,
            path,
            fuels: Fuel::ALL
                .iter()
                .map(|x| Opt { value: x.name().to_owned(), label: x.name().to_owned(), selected: *x == fuel })
                .collect(),
            areas,
            periods: TREND_PERIODS
                .iter()
                .zip(period_labels)
                .map(|(p, label)| Opt {
                    value: p.key.to_owned(),
                    label: label.to_owned(),
                    selected: p.key == period.key,
                })
                .collect(),
            title: (h.series_title)(&area_name, fuel.name()),
            svg,
            json,
            extremes,
            rows: points
                .iter()
                .rev()
                .map(|p| RowView {
                    date: day_label(lang, p.day),
                    average: lang.price(p.average),
                    min: lang.price(p.min),
                    max: lang.price(p.max),
                    stations: p.stations,
                })
                .collect(),
            cheapest,
            dearest,
            weekday,
            depts: depts.into_iter().map(|(_, d)| d).collect(),
        })
    }
}

/// The trends page, under its French and English paths.
pub fn router() -> Router<AppState> {
    Router::new().route("/tendances", get(trends_page)).route("/trends", get(trends_page))
}
