// Runs Python under Pyodide in Node.js with cognito_raw's source in Pyodide's
// file system, for tests/clients/test_fetch.py and benchmarks/_edge.py.
//
//   node runner.mjs PYODIDE_DIR PACKAGE_DIR SCRIPT CONFIG_JSON
//
// PYODIDE_DIR is the npm "pyodide" package (its interpreter and standard
// library: nothing is fetched from a CDN, no package is loaded). SCRIPT
// defines `async def main(config: str) -> str`; the last line printed is one
// JSON object: the milliseconds spent loading Pyodide, importing
// cognito_raw.fetch and running main, the packages Pyodide loaded, and what
// main returned.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, packageDir, script, config] = process.argv.slice(2);
const started = performance.now();
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: pyodideDir + "/" });
const loaded = performance.now();

const site = "/lib/cognito_raw_site";
// The package's .py files, its subpackages included.
function copyTree(from, to) {
  pyodide.FS.mkdirTree(to);
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name !== "__pycache__") {
      copyTree(join(from, entry.name), `${to}/${entry.name}`);
    } else if (entry.name.endsWith(".py")) {
      pyodide.FS.writeFile(`${to}/${entry.name}`, readFileSync(join(from, entry.name)));
    }
  }
}
copyTree(packageDir, `${site}/cognito_raw`);
pyodide.runPython(`import sys; sys.path.insert(0, "${site}")`);
pyodide.runPython("import cognito_raw.fetch");
const imported = performance.now();

let result;
try {
  pyodide.runPython(readFileSync(script, "utf8"));
  result = await pyodide.globals.get("main")(config);
} catch (error) {
  // A Python traceback (PythonError's message), not Pyodide's whole source.
  console.error(error.message ?? String(error));
  process.exit(1);
}
const done = performance.now();
console.log(
  JSON.stringify({
    load_ms: loaded - started,
    import_ms: imported - loaded,
    run_ms: done - imported,
    packages: Object.keys(pyodide.loadedPackages),
    result: JSON.parse(result),
  }),
);
