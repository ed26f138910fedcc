//! The alert engine: after an import, the prices it changed (`alert_changes`, written by the
//! loader in the import's own transaction) are matched against the rules — never all users ×
//! all stations: the changed stations lead, through `user_stations` (indexed by station) to
//! their followers' rules (indexed by user and fuel), and the place rules come from an index on
//! their bounding box, the rules along a saved route from the changes that crossed their
//! threshold, matched against the route's stored points ([`route_matches`]). Triggers go to [`super::outbox::store`], which writes the de-duplication
//! records and the outbox in one transaction and consumes the batch.

use std::collections::{BTreeMap, HashMap};

use crate::db::Db;
use crate::db::alert_outbox as q;
use crate::db::alerts::{self, PriceChange};
use crate::domain::{RuleId, RuleKind, SavedRouteId, StationId, UserId};

use super::outbox::{Item, Stored, store};
use super::rules::distance_km;
use crate::index::{cumulative_km, nearest_on_path};

/// Changes evaluated per transaction.
pub const BATCH: i64 = 5_000;

/// What one evaluation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluated {
    pub changes: usize,
    pub triggers: usize,
    pub stored: Stored,
}

impl Evaluated {
    fn add(&mut self, o: Evaluated) {
        self.changes += o.changes;
        self.triggers += o.triggers;
        self.stored.duplicates += o.stored.duplicates;
        self.stored.messages += o.stored.messages;
        self.stored.merged += o.stored.merged;
        self.stored.capped += o.stored.capped;
    }
}

/// Evaluates every change waiting, batch by batch.
pub async fn evaluate_pending(db: &Db, now: i64) -> Result<Evaluated, sqlx::Error> {
    let mut total = Evaluated::default();
    while let Some((first, last)) = alerts::pending_change_range(db, BATCH).await? {
        total.add(evaluate_batch(db, first, last, now).await?);
    }
    Ok(total)
}

/// Evaluates the changes `first..=last` and consumes them.
pub async fn evaluate_batch(db: &Db, first: i64, last: i64, now: i64) -> Result<Evaluated, sqlx::Error> {
    let t = std::time::Instant::now();
    let changes = alerts::changes_in(db, first, last).await?;
    let items = triggers(db, first, last, &changes).await?;
    let matched = t.elapsed();
    let triggers = items.values().map(Vec::len).sum();
    let stored = store(db, items, Some((first, last)), now).await?;
    tracing::debug!(
        matched_ms = matched.as_millis() as u64,
        total_ms = t.elapsed().as_millis() as u64,
        "alerts: batch evaluated"
    );
    Ok(Evaluated { changes: changes.len(), triggers, stored })
}

/// The trigger of a threshold rule (`rule`, at `price`) by the change `c`, along `route` if any.
fn threshold_item(rule: RuleId, price: i32, c: &PriceChange, route: Option<String>) -> Item {
    Item {
        rule,
        kind: RuleKind::Threshold,
        station: c.station_id,
        fuel: c.fuel,
        old: c.old_price,
        new: c.new_price,
        at: c.changed_at,
        threshold: Some(price),
        route,
    }
}

/// Threshold rules around a place met by `changes`: (user, trigger). The rules of each fuel are
/// sorted by the south edge of their box, so each change looks at the boxes that can hold it
/// only (a band of [`q::MAX_BOX_DEGREES`]).
async fn place_matches(db: &Db, changes: &[PriceChange]) -> Result<Vec<(UserId, Item)>, sqlx::Error> {
    let mut rules = q::place_rules(db).await?;
    if rules.is_empty() || changes.is_empty() {
        return Ok(Vec::new());
    }
    rules.sort_by(|a, b| (a.fuel, a.min_lat).partial_cmp(&(b.fuel, b.min_lat)).unwrap_or(std::cmp::Ordering::Equal));
    let mut ids: Vec<StationId> = changes.iter().map(|c| c.station_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let at: HashMap<StationId, (f64, f64)> =
        q::positions(db, &ids).await?.into_iter().map(|(id, la, lo)| (id, (la, lo))).collect();
    let mut out = Vec::new();
    for c in changes {
        let Some(&(lat, lon)) = at.get(&c.station_id) else { continue };
        let from = rules.partition_point(|r| (r.fuel, r.min_lat) < (c.fuel, lat - q::MAX_BOX_DEGREES));
        for r in rules[from..].iter().take_while(|r| r.fuel == c.fuel && r.min_lat <= lat) {
            let inside = r.max_lat >= lat && r.min_lon <= lon && r.max_lon >= lon;
            let crossed = c.new_price <= r.price && c.old_price > r.price;
            if inside && crossed && distance_km(r.latitude, r.longitude, lat, lon) <= r.radius_km {
                out.push((r.user_id, threshold_item(r.id, r.price, c, None)));
            }
        }
    }
    Ok(out)
}

/// Threshold rules along a saved route met by `changes`: (user, trigger). Per rule, only the
/// changes of its fuel that crossed its threshold are looked at, and each is kept when the
/// station lies in the route's corridor (the rule's width, [`crate::route::DEFAULT_CORRIDOR_KM`]
/// when it has none, around the stored points), by the route search's own measure ([`nearest_on_path`], what
/// [`crate::index::PriceIndex::corridor`] keeps): never a scan of all stations.
async fn route_matches(db: &Db, changes: &[PriceChange]) -> Result<Vec<(UserId, Item)>, sqlx::Error> {
    let mut fuels: Vec<i16> = changes.iter().map(|c| c.fuel).collect();
    fuels.sort_unstable();
    fuels.dedup();
    if fuels.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_fuel: HashMap<i16, Vec<&PriceChange>> = HashMap::new();
    for c in changes {
        by_fuel.entry(c.fuel).or_default().push(c);
    }
    // The rules some change crossed the threshold of, with those changes.
    let met: Vec<(q::RouteRule, Vec<&PriceChange>)> = q::route_rules(db, &fuels)
        .await?
        .into_iter()
        .filter_map(|r| {
            let list: Vec<&PriceChange> = by_fuel
                .get(&r.fuel)?
                .iter()
                .copied()
                .filter(|c| c.new_price <= r.price && c.old_price > r.price)
                .collect();
            (!list.is_empty()).then_some((r, list))
        })
        .collect();
    if met.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<StationId> = met.iter().flat_map(|(_, l)| l.iter().map(|c| c.station_id)).collect();
    ids.sort_unstable();
    ids.dedup();
    let at: HashMap<StationId, (f64, f64)> =
        q::positions(db, &ids).await?.into_iter().map(|(id, la, lo)| (id, (la, lo))).collect();
    let mut route_ids: Vec<SavedRouteId> = met.iter().map(|(r, _)| r.route_id).collect();
    route_ids.sort_unstable();
    route_ids.dedup();
    let mut paths: HashMap<SavedRouteId, (String, Vec<(f64, f64)>)> = HashMap::new();
    for (id, name, points) in q::route_paths(db, &route_ids).await? {
        // Stored points were checked when saved; a row that no longer parses matches nothing.
        match crate::route::Path::from_text(&points, crate::route::MAX_SAVED_POINTS) {
            Ok(path) => {
                paths.insert(id, (name, path.pairs()));
            }
            Err(e) => tracing::warn!(route = id.get(), error = %e, "alerts: a saved route's points do not parse"),
        }
    }
    let mut out = Vec::new();
    for (r, list) in &met {
        let Some((name, pairs)) = paths.get(&r.route_id) else { continue };
        let width = r.corridor_km.unwrap_or(crate::route::DEFAULT_CORRIDOR_KM);
        let cum = cumulative_km(pairs);
        // The route's box widened by the corridor: most stations are decided without the path.
        let margin_lat = width / 111.0 + 1e-6;
        let (mut s, mut n, mut w, mut e) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(la, lo) in pairs {
            (s, n, w, e) = (s.min(la), n.max(la), w.min(lo), e.max(lo));
        }
        let margin_lon = width / (111.0 * s.abs().max(n.abs()).to_radians().cos().max(0.05)) + 1e-6;
        for c in list {
            let Some(&(lat, lon)) = at.get(&c.station_id) else { continue };
            let in_box =
                lat >= s - margin_lat && lat <= n + margin_lat && lon >= w - margin_lon && lon <= e + margin_lon;
            if in_box && nearest_on_path((lat, lon), pairs, &cum).is_some_and(|(d, _)| d <= width) {
                out.push((r.user_id, threshold_item(r.id, r.price, c, Some(name.clone()))));
            }
        }
    }
    Ok(out)
}

/// The triggers of the changes `first..=last` (`changes` is their list), by user.
pub async fn triggers(
    db: &Db,
    first: i64,
    last: i64,
    changes: &[PriceChange],
) -> Result<BTreeMap<UserId, Vec<Item>>, sqlx::Error> {
    let t = std::time::Instant::now();
    let mine = q::mine_candidates(db, first, last).await?;
    let t_mine = t.elapsed();
    let mut places = place_matches(db, changes).await?;
    places.extend(route_matches(db, changes).await?);
    tracing::debug!(
        mine_ms = t_mine.as_millis() as u64,
        places_ms = (t.elapsed() - t_mine).as_millis() as u64,
        mine = mine.len(),
        places = places.len(),
        "alerts: candidates"
    );
    let mut by_user: BTreeMap<UserId, Vec<Item>> = BTreeMap::new();
    // The cheapest rules: (rule, user, fuel) → the changes at the user's stations.
    let mut cheapest: HashMap<RuleId, (UserId, i16)> = HashMap::new();
    for c in mine {
        let item = Item {
            rule: c.rule_id,
            kind: c.kind,
            station: c.station_id,
            fuel: c.fuel,
            old: c.old_price,
            new: c.new_price,
            at: c.changed_at,
            threshold: c.price.filter(|_| c.kind == RuleKind::Threshold),
            route: None,
        };
        if c.kind == RuleKind::Cheapest {
            cheapest.insert(c.rule_id, (c.user_id, c.fuel));
        } else {
            by_user.entry(c.user_id).or_default().push(item);
        }
    }
    for (user, item) in places {
        by_user.entry(user).or_default().push(item);
    }
    if !cheapest.is_empty() {
        let mut ids: Vec<RuleId> = cheapest.keys().copied().collect();
        ids.sort_unstable();
        let mut prices: HashMap<RuleId, Vec<(StationId, i32)>> = HashMap::new();
        for (rule, station, price) in q::rule_station_prices(db, &ids).await? {
            prices.entry(rule).or_default().push((station, price));
        }
        let by_key: HashMap<(StationId, i16), &PriceChange> =
            changes.iter().map(|c| ((c.station_id, c.fuel), c)).collect();
        for rule in ids {
            let (user, fuel) = cheapest[&rule];
            let now_prices = prices.remove(&rule).unwrap_or_default();
            let before: Vec<(StationId, i32)> =
                now_prices.iter().map(|&(s, p)| (s, by_key.get(&(s, fuel)).map_or(p, |c| c.old_price))).collect();
            let best = |v: &[(StationId, i32)]| v.iter().min_by_key(|(s, p)| (*p, *s)).copied();
            let (Some(after), Some(prev)) = (best(&now_prices), best(&before)) else { continue };
            if after.0 == prev.0 {
                continue;
            }
            // The change that made it: the latest at the user's stations for this fuel.
            let at = now_prices.iter().filter_map(|(s, _)| by_key.get(&(*s, fuel)).map(|c| c.changed_at)).max();
            by_user.entry(user).or_default().push(Item {
                rule,
                kind: RuleKind::Cheapest,
                station: after.0,
                fuel,
                old: prev.1,
                new: after.1,
                at: at.unwrap_or(0),
                threshold: None,
                route: None,
            });
        }
    }
    let mut kinds: BTreeMap<RuleKind, usize> = BTreeMap::new();
    for list in by_user.values_mut() {
        list.sort_by_key(|i| (i.rule, i.station, i.fuel, i.at));
        list.dedup_by_key(|i| (i.rule, i.station, i.fuel, i.at));
        for i in list.iter() {
            *kinds.entry(i.kind).or_default() += 1;
        }
    }
    tracing::debug!(?kinds, "alerts: triggers by kind");
    Ok(by_user)
}
