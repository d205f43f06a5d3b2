// Copies the prebuilt Mirador bundle into web/static/viewer/ (git-ignored) so Flask serves it.
// Runs as npm's postinstall step: `cd web/viewer && npm install` (scripts/setup.sh does this).
const fs = require("fs");
const path = require("path");

const src = path.join(__dirname, "node_modules", "mirador", "dist");
const dest = path.join(__dirname, "..", "static", "viewer");
fs.mkdirSync(dest, { recursive: true });
for (const name of ["mirador.min.js", "mirador.min.js.LICENSE.txt"]) {
  const from = path.join(src, name);
  if (fs.existsSync(from)) {
    fs.copyFileSync(from, path.join(dest, name));
    console.log(`viewer: copied ${name} -> web/static/viewer/`);
  } else if (name === "mirador.min.js") {
    console.error(`viewer: ${from} is missing; is the mirador package installed?`);
    process.exit(1);
  }
}
