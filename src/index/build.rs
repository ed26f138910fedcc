//! Building a [`PriceIndex`]: one read of the database, then the grids, names and averages.

use super::*;

impl PriceIndex {
    /// Reads the current data and builds the index from it.
    pub async fn load(db: &Db) -> Result<PriceIndex, IndexError> {
        let started = Instant::now();
        // Names first: a names import committing in between is seen by the next check.
        let names_version = crate::db::station_names::last_import_id(db).await?;
        // Before the data too: a recomputation committing in between is seen by the next check.
        let series_version = crate::db::series::generation(db).await?;
        let osm_names = crate::db::station_names::all(db).await?;
        let data = q::current_data(db).await?;
        let read = started.elapsed();
        // 10–20 ms of CPU on the national file: off the async workers, so requests
        // served meanwhile from the previous snapshot do not wait behind it.
        let mut index =
            tokio::task::spawn_blocking(move || PriceIndex::build_with_names(data, osm_names, names_version)).await?;
        index.stats.read = read;
        index.series_version = series_version;
        Ok(index)
    }

    /// Builds the index from rows read by [`q::current_data`]. Prices and shortages of stations
    /// not in `data.stations` (gone from the feed) are dropped, as are fuel ids other than the
    /// six (the loader never writes one).
    pub fn build(data: CurrentData) -> PriceIndex {
        PriceIndex::build_with_names(data, HashMap::new(), None)
    }

    /// [`PriceIndex::build`] with the stations' OpenStreetMap names (from
    /// [`crate::db::station_names::all`]) and the id of the names import they come from.
    pub fn build_with_names(
        data: CurrentData,
        mut osm_names: HashMap<StationId, StationName>,
        names_version: Option<i64>,
    ) -> PriceIndex {
        let started = Instant::now();
        let CurrentData { version, latest_snapshot_at, stations: mut rows, prices, shortages } = data;
        if !rows.is_sorted_by_key(|r| r.id) {
            rows.sort_by_key(|r| r.id);
        }
        let mut services: Vec<Box<str>> = Vec::new();
        let mut service_ids: HashMap<String, u16> = HashMap::new();
        let mut offers: Vec<Vec<Offer>> = vec![Vec::new(); rows.len()];
        let mut outages: Vec<Vec<Shortage>> = vec![Vec::new(); rows.len()];
        let position = |id: StationId| rows.binary_search_by_key(&id, |r| r.id).ok();
        for p in &prices {
            if let (Some(i), Some(fuel)) = (position(p.station_id), Fuel::from_id(p.fuel.into())) {
                offers[i].push(Offer { fuel, price: p.price, updated_at: p.updated_at, shortage: None });
            }
        }
        for s in &shortages {
            if let (Some(i), Some(fuel)) = (position(s.station_id), Fuel::from_id(s.fuel.into())) {
                let kind = s.kind;
                outages[i].push(Shortage { fuel, kind, since: s.since });
                if let Some(o) = offers[i].iter_mut().find(|o| o.fuel == fuel) {
                    o.shortage = Some(kind);
                }
            }
        }
        let stations: Vec<Station> = rows
            .into_iter()
            .zip(offers.into_iter().zip(outages))
            .map(|(r, (mut prices, mut shortages))| {
                prices.sort_by_key(|o| o.fuel.id());
                shortages.sort_by_key(|s| s.fuel.id());
                // Written by our own loader; unreadable, the station just matches no service.
                let names = serde_json::from_str::<Vec<String>>(&r.services).unwrap_or_else(|e| {
                    tracing::warn!(station = r.id.get(), error = %e, "unreadable services JSON");
                    Vec::new()
                });
                let ids = names
                    .into_iter()
                    .filter_map(|name| {
                        if let Some(id) = service_ids.get(&name) {
                            return Some(*id);
                        }
                        let id = u16::try_from(services.len()).ok()?;
                        services.push(name.as_str().into());
                        service_ids.insert(name, id);
                        Some(id)
                    })
                    .collect();
                let osm = osm_names.remove(&r.id);
                let brand = osm.as_ref().and_then(|n| n.brand.as_deref()).map(Box::from);
                let name = osm.as_ref().and_then(StationName::display).map(Box::from);
                let name_words = word_key(
                    osm.iter().flat_map(|n| [n.brand.as_deref(), n.osm_brand.as_deref(), n.name.as_deref()]).flatten(),
                );
                let place_words = word_key([r.city.as_str(), r.postcode.as_str(), r.department.as_str()]);
                let opening_hours = r.opening_hours.as_deref().and_then(|h| {
                    serde_json::from_str::<OpeningHours>(h)
                        .inspect_err(
                            |e| tracing::warn!(station = r.id.get(), error = %e, "unreadable opening hours JSON"),
                        )
                        .ok()
                        .map(Box::new)
                });
                Station {
                    id: r.id,
                    brand,
                    name,
                    name_words,
                    place_words,
                    latitude: r.latitude,
                    longitude: r.longitude,
                    address: r.address.into(),
                    city: r.city.into(),
                    postcode: r.postcode.into(),
                    department: r.department.into(),
                    automate_24_24: r.automate_24_24,
                    road_type: r.road_type,
                    opening_hours,
                    services: ids,
                    prices: prices.into(),
                    shortages: shortages.into(),
                }
            })
            .collect();

        let mut per_fuel: [Vec<(f64, f64, FuelEntry)>; 6] = Default::default();
        for (i, s) in stations.iter().enumerate() {
            // At most a few hundred thousand stations: fits a u32.
            let station = i as u32;
            for &offer in &s.prices {
                per_fuel[slot(offer.fuel)].push((s.latitude, s.longitude, FuelEntry { station, offer }));
            }
        }
        let by_fuel = per_fuel.map(Grid::new);
        let priced = Grid::new(
            stations
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.prices.is_empty())
                .map(|(i, s)| (s.latitude, s.longitude, i as u32)),
        );
        let averages = latest_snapshot_at.map(|snapshot| {
            let since = snapshot - AVERAGE_WINDOW_SECS;
            let mut departments: HashMap<&str, Averager> = HashMap::new();
            let mut national = Averager::default();
            for s in &stations {
                let dept = departments.entry(&*s.department).or_default();
                for o in s.prices.iter().filter(|o| o.updated_at >= since) {
                    national.add(o.fuel, o.price);
                    dept.add(o.fuel, o.price);
                }
            }
            Averages {
                since,
                national: national.finish(),
                departments: departments.into_iter().map(|(d, a)| (Box::from(d), a.finish())).collect(),
            }
        });

        let mut index = PriceIndex {
            version,
            names_version,
            series_version: 0,
            stations,
            services,
            by_fuel,
            priced,
            averages,
            stats: BuildStats::default(),
        };
        index.stats.stations = index.stations.len();
        index.stats.prices = index.by_fuel.iter().map(Grid::len).sum();
        index.stats.heap_bytes = index.heap_bytes();
        index.stats.build = started.elapsed();
        index
    }
}
