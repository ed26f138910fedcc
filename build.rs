// `sqlx::migrate!` embeds the migrations at compile time; a new file in the folder must rebuild
// the crate (sqlx's own tracking only sees files that existed at the last build).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
