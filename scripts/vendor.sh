#!/usr/bin/env bash
# Copies the self-contained builds of our front-end libraries from the npm
# registry into static/vendor/ (and axe-core into tests/). Run by `make vendor`;
# the result is committed so the app never needs npm or a CDN at run time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/package.json" "$work/"
(cd "$work" && npm install --silent --no-audit --no-fund)
nm="$work/node_modules"
v="$root/static/vendor"
rm -rf "$v" && mkdir -p "$v/bootstrap" "$v/bootstrap-icons/fonts" "$v/inter/files" "$v/chart.js"
cp "$nm"/bootstrap/dist/css/bootstrap.min.css{,.map} "$v/bootstrap/"
cp "$nm"/bootstrap/dist/js/bootstrap.bundle.min.js{,.map} "$v/bootstrap/"
cp "$nm"/bootstrap/LICENSE "$v/bootstrap/"
cp "$nm"/bootstrap-icons/font/bootstrap-icons.min.css "$v/bootstrap-icons/"
cp "$nm"/bootstrap-icons/font/fonts/bootstrap-icons.woff{,2} "$v/bootstrap-icons/fonts/"
cp "$nm"/bootstrap-icons/LICENSE "$v/bootstrap-icons/"
# Inter: only the Latin subsets Portuguese needs, as a variable font.
for f in latin latin-ext; do
  cp "$nm/@fontsource-variable/inter/files/inter-$f-wght-normal.woff2" "$v/inter/files/"
done
cp "$nm/@fontsource-variable/inter/LICENSE" "$v/inter/"
python3 - "$nm/@fontsource-variable/inter/wght.css" "$v/inter/inter.css" <<'PY'
import re, sys
css = open(sys.argv[1]).read()
blocks = re.findall(r"/\* inter-(latin(?:-ext)?)-wght-normal \*/\n(@font-face \{.*?\})", css, re.S)
open(sys.argv[2], "w").write("\n".join(b for _, b in blocks) + "\n")
PY
cp "$nm"/chart.js/dist/chart.umd.min.js{,.map} "$v/chart.js/"
cp "$nm"/chart.js/LICENSE.md "$v/chart.js/"
mkdir -p "$root/tests/assets"
cp "$nm"/axe-core/axe.min.js "$root/tests/assets/"
echo "vendored into $v"
