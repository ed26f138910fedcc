//! The route search against a real Valhalla (3.9.1, from PyPI's pyvalhalla wheel: see
//! `scripts/valhalla.sh`): the test writes a small OSM road network through the seeded
//! stations, turns it into `.osm.pbf` with osmium, builds the tiles, starts `valhalla_service`
//! on a free loopback port and plans a trip through the application. Without the binaries (or
//! osmium) it says it is skipped.

use std::path::PathBuf;
use std::time::Duration;

use carburoam::route::RouterKind;
use serde_json::Value;

use crate::db_test;
use crate::route::{FAR, LAVAL, OFF_2KM, ON_ROUTE, RENNES, app_with_router, ids, on_line, seed};

/// The unpacked wheel, when `scripts/valhalla.sh` has run, and osmium.
fn valhalla_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CARBUROAM_VALHALLA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/carburoam-valhalla/wheel")))?;
    let osmium = std::process::Command::new("osmium").arg("--version").output().is_ok_and(|o| o.status.success());
    (dir.join("valhalla/bin/valhalla_service").is_file() && osmium).then_some(dir)
}

/// A main road from Rennes to Laval along the seeded line, and a side road to each station.
fn network() -> String {
    let mut nodes = String::new();
    let mut ways = String::new();
    let mut main = Vec::new();
    for k in 0..=100 {
        let (lat, lon) = on_line(k as f64 / 100.0, 0.0);
        nodes.push_str(&format!("  <node id=\"{}\" version=\"1\" lat=\"{lat:.6}\" lon=\"{lon:.6}\"/>\n", k + 1));
        main.push(k + 1);
    }
    let nd = |ids: &[usize]| ids.iter().map(|i| format!("<nd ref=\"{i}\"/>")).collect::<String>();
    ways.push_str(&format!(
        "  <way id=\"1000\" version=\"1\">{}<tag k=\"highway\" v=\"primary\"/><tag k=\"maxspeed\" v=\"80\"/></way>\n",
        nd(&main)
    ));
    // The side roads: from the main road's node nearest each station, north to it.
    for (i, (t, north)) in [(0.4, 2.0), (0.5, 10.0)].into_iter().enumerate() {
        let (lat, lon) = on_line(t, north);
        let id = 500 + i;
        nodes.push_str(&format!("  <node id=\"{id}\" version=\"1\" lat=\"{lat:.6}\" lon=\"{lon:.6}\"/>\n"));
        let junction = (t * 100.0).round() as usize + 1;
        ways.push_str(&format!(
            "  <way id=\"{}\" version=\"1\">{}<tag k=\"highway\" v=\"secondary\"/></way>\n",
            2000 + i,
            nd(&[junction, id])
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\" generator=\"carburoam-test\">\n{nodes}{ways}</osm>\n"
    )
}

/// A Valhalla serving the network, killed when dropped.
struct Valhalla {
    url: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

async fn start_valhalla(bin: &std::path::Path) -> Valhalla {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::write(d.join("net.osm"), network()).expect("osm");
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().expect("run");
        assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    run(std::process::Command::new("osmium")
        .arg("cat")
        .arg(d.join("net.osm"))
        .arg("-o")
        .arg(d.join("net.osm.pbf"))
        .arg("-O"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let config = run(std::process::Command::new("python3")
        .arg(bin.join("valhalla/valhalla_build_config.py"))
        .arg("--mjolnir-tile-dir")
        .arg(d.join("tiles"))
        .arg("--mjolnir-tile-extract")
        .arg(d.join("tiles.tar"))
        .arg("--mjolnir-timezone")
        .arg(d.join("tz.sqlite"))
        .arg("--mjolnir-admin")
        .arg(d.join("admin.sqlite"))
        .arg("--httpd-service-listen")
        .arg(format!("tcp://127.0.0.1:{port}")));
    std::fs::write(d.join("config.json"), config).expect("config");
    let libs = bin.join("pyvalhalla.libs");
    run(std::process::Command::new(bin.join("valhalla/bin/valhalla_build_tiles"))
        .env("LD_LIBRARY_PATH", &libs)
        .arg("-c")
        .arg(d.join("config.json"))
        .arg(d.join("net.osm.pbf")));
    let child = tokio::process::Command::new(bin.join("valhalla/bin/valhalla_service"))
        .env("LD_LIBRARY_PATH", &libs)
        .arg(d.join("config.json"))
        .arg("1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("valhalla_service");
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{url}/status")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Valhalla { url, _child: child, _dir: dir };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("valhalla_service did not answer on {url}");
}

db_test!(route_through_a_real_valhalla, |t| {
    let Some(bin) = valhalla_dir() else {
        eprintln!("Valhalla or osmium missing (run scripts/valhalla.sh): real-Valhalla route test skipped");
        return;
    };
    seed(&t.db).await;
    let valhalla = start_valhalla(&bin).await;
    let app = app_with_router(t.db.clone(), RouterKind::Valhalla, Some(valhalla.url.clone())).await;
    let r = app
        .get(&format!(
            "/api/v1/route?from={},{}&to={},{}&fuel=Gazole&corridor_km=5",
            RENNES.0, RENNES.1, LAVAL.0, LAVAL.1
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v: Value = r.json();
    assert_eq!(v["route"]["source"], "valhalla");
    let km = v["route"]["distance_km"].as_f64().expect("km");
    assert!((km - 67.3).abs() < 2.0, "{km}");
    assert!(v["route"]["duration_min"].as_f64().expect("min") > 30.0);
    assert!(v["route"]["points"].as_array().expect("points").len() >= 2);
    // Along the main road; the 10 km one is outside the 5 km corridor.
    let list = ids(&v);
    assert!(list.contains(&ON_ROUTE) && list.contains(&OFF_2KM) && !list.contains(&FAR), "{list:?}");
    for s in v["stations"].as_array().expect("stations") {
        assert_eq!(s["detour_estimated"], false, "{s}");
    }
    let off = v["stations"].as_array().expect("stations").iter().find(|s| s["id"] == OFF_2KM).expect("off");
    // There and back on the 2 km side road.
    let detour = off["detour_km"].as_f64().expect("detour");
    assert!((detour - 4.0).abs() < 0.5, "{detour}");
    assert!(off["detour_min"].as_f64().expect("min") > 1.0);
    let on = v["stations"].as_array().expect("stations").iter().find(|s| s["id"] == ON_ROUTE).expect("on");
    assert!(on["detour_km"].as_f64().expect("detour") < 0.5, "{on}");
});
