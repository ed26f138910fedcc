#!/bin/sh
# Re-fetches the fuel brands of the name-suggestion-index (BSD-3-Clause) into vendor/nsi/.
# Usage: scripts/vendor-nsi.sh [VERSION]   (default: the version in vendor/nsi/VERSION)
# Needs npm and node. The npm package ships the whole index as dist/json/nsi.json (~12 MB);
# only `nsi["brands/amenity/fuel"]` (the same content as NSI's data/brands/amenity/fuel.json)
# is kept, one item per line so that updates diff well.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
version=${1:-$(cat "$here/vendor/nsi/VERSION")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "name-suggestion-index@$version" >/dev/null
tar xzf name-suggestion-index-*.tgz
node - "$here/vendor/nsi/fuel.json" <<'JS'
const fs = require("fs");
const nsi = JSON.parse(fs.readFileSync("package/dist/json/nsi.json", "utf8"));
const cat = nsi.nsi["brands/amenity/fuel"];
if (!cat || !Array.isArray(cat.items) || cat.items.length < 100) throw new Error("brands/amenity/fuel missing");
const meta = { version: nsi._meta.version, generated: nsi._meta.generated, path: "brands/amenity/fuel" };
const out = '{"_meta":' + JSON.stringify(meta) + ',\n"properties":' + JSON.stringify(cat.properties) +
  ',\n"items":[\n' + cat.items.map((i) => JSON.stringify(i)).join(",\n") + "\n]}\n";
fs.writeFileSync(process.argv[2], out);
console.log(`${cat.items.length} fuel brands from name-suggestion-index ${meta.version}`);
JS
cp package/LICENSE.md "$here/vendor/nsi/LICENSE.md"
echo "$version" > "$here/vendor/nsi/VERSION"
