#!/bin/sh
# Makes the web app's PNG icons (static/icons/*.png, committed) from static/favicon.svg and
# static/icons/maskable.svg (the same pump, full-bleed, inside the maskable safe zone), with the
# headless Chromium the browser tests use. Run after changing either SVG.
set -eu
cd "$(dirname "$0")/.."
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
render() { # SVG SIZE OUT
    printf '<!doctype html><style>html,body{margin:0;background:transparent}img{display:block;width:%spx;height:%spx}</style><img src="file://%s">' \
        "$2" "$2" "$PWD/$1" > "$tmp/icon.html"
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --default-background-color=00000000 \
        --window-size="$2,$2" --screenshot="$PWD/$3" "file://$tmp/icon.html" 2>/dev/null
}
render static/favicon.svg 192 static/icons/icon-192.png
render static/favicon.svg 512 static/icons/icon-512.png
render static/icons/maskable.svg 512 static/icons/maskable-512.png
ls -l static/icons/*.png
