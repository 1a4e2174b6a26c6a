// Converts the SFDX project with Salesforce's source-deploy-retrieve (what `sf project deploy` and
// `sf project convert source` use) into Metadata API format, and prints what it made as JSON.
// usage: node tests/orgproject/convert.js TOOLS_DIR ORG_DIR OUT_DIR
const path = require("path");
const [tools, org, out] = process.argv.slice(2).map((p) => path.resolve(p));
const sdr = require(path.join(tools, "node_modules/@salesforce/source-deploy-retrieve"));

(async () => {
  const project = JSON.parse(require("fs").readFileSync(path.join(org, "sfdx-project.json"), "utf8"));
  const dirs = project.packageDirectories.map((d) => path.join(org, d.path));
  const components = sdr.ComponentSet.fromSource({ fsPaths: dirs });
  components.sourceApiVersion = project.sourceApiVersion;
  const result = await new sdr.MetadataConverter().convert(components, "metadata", {
    type: "directory", outputDirectory: out, genUniqueDir: false,
  });
  const made = components.getSourceComponents().toArray().map((c) => ({
    type: c.type.name, fullName: c.fullName,
    children: c.getChildren().map((k) => `${k.type.name}:${k.fullName}`),
  }));
  process.stdout.write(JSON.stringify({ packagePath: result.packagePath, components: made }) + "\n");
})().catch((err) => { process.stderr.write(`${err.name}: ${err.message}\n`); process.exit(1); });
