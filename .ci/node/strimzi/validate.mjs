// Validates Strimzi custom resources against the Strimzi CRDs' openAPIV3Schema, as compiled into
// @kubernetes-models/strimzi-kafka-operator. Usage: node validate.mjs FILE.json...
// Each FILE holds a JSON array of resources (the test converts the YAML). Exits 1 if any is invalid.
import { readFile } from "node:fs/promises";

const failures = [];
let checked = 0;
for (const file of process.argv.slice(2)) {
  const resources = JSON.parse(await readFile(file, "utf8"));
  for (const resource of resources) {
    const [group, version] = String(resource.apiVersion).split("/");
    const name = `${resource.kind}/${resource.metadata?.name}`;
    if (group !== "kafka.strimzi.io") {
      failures.push(`${name}: not a Strimzi resource (${resource.apiVersion})`);
      continue;
    }
    let model;
    try {
      model = await import(`@kubernetes-models/strimzi-kafka-operator/${group}/${version}/${resource.kind}`);
    } catch (error) {
      failures.push(`${name}: no schema for ${resource.apiVersion} ${resource.kind} (${error.code ?? error.message})`);
      continue;
    }
    try {
      new model[resource.kind](resource).validate();
      checked += 1;
      console.log(`VALID ${name} (${resource.apiVersion})`);
    } catch (error) {
      failures.push(`${name}: ${error.message}`);
    }
  }
}
for (const failure of failures) console.log(`INVALID ${failure}`);
console.log(`${checked} valid, ${failures.length} invalid`);
process.exit(failures.length || checked === 0 ? 1 : 0);
