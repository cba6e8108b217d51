// Unit tests of the shared stage-graph module (web/src/graph): the model built from real plans
// (made by the nodejs WebAssembly package), the views (focus, image badges), find, lineage, and
// the layered layout's invariants and stability on the real 49-98 stage Dockerfiles.
//
// Input: web/src/graph/*.ts, loaded through Vite's SSR module loader (TypeScript on the fly),
// web/pkg/node and tests/fixtures/dockerfiles/large/. Output: test results.
// Invariant: the graph module is tested without a browser or the playground: it is pure.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createServer } from "vite";

import { rootDir, webDir } from "./harness.mjs";

const planner = createRequire(join(rootDir, "package.json"))("./web/pkg/node");

const EDGES = [
  "FROM alpine:3.20 AS assets",
  "RUN mkdir /assets",
  "FROM alpine:3.20 AS template",
  "ONBUILD COPY --from=assets /assets /srv/assets",
  "FROM template AS site",
  "RUN --mount=type=bind,from=assets,source=/assets,target=/mnt cp /mnt/x /srv/",
  "COPY --from=assets /a /a",
  "COPY --from=assets /b /b",
  "FROM busybox:1.36 AS unused",
  "COPY --from=site /srv /srv",
  "",
].join("\n");

let vite;
let graph;

before(async () => {
  vite = await createServer({ root: webDir, logLevel: "silent", appType: "custom", server: { middlewareMode: true, hmr: false } });
  graph = await vite.ssrLoadModule("/src/graph/index.ts");
});

after(async () => {
  await vite?.close();
});

/** The build args the large fixtures need: neon's compute image fails, as in BuildKit, without
 * the PostgreSQL version (`${PG_VERSION:?}` in a needed stage); other files ignore it. */
const BUILD_ARGS = { PG_VERSION: "v17" };

function planOf(text, targets = []) {
  const outcome = planner.plan(text, { targets, build_args: BUILD_ARGS });
  assert.ok(outcome.plan, JSON.stringify(outcome.diagnostics));
  return outcome.plan;
}

const IMAGE_BOXES = { focus: false, images: true };
const largeDir = join(rootDir, "tests", "fixtures", "dockerfiles", "large");
/** The real large Dockerfiles these tests were written against (others in the folder may need build args). */
const LARGE = ["moby-buildkit.Dockerfile", "moby-moby.Dockerfile", "neondatabase-neon-compute-node.Dockerfile"].map((name) => ({
  name,
  text: readFileSync(join(largeDir, name), "utf8"),
}));

describe("graph model", () => {
  test("stages and images become nodes with needed, target and wave", () => {
    const model = graph.buildModel(planOf(EDGES, ["site"]), IMAGE_BOXES);
    const byId = Object.fromEntries(model.nodes.map((node) => [node.id, node]));
    assert.deepEqual(
      model.nodes.filter((node) => node.kind === "image").map((node) => [node.label, node.needed]),
      [["alpine:3.20", true], ["busybox:1.36", false]],
      "each image once; an image only the skipped stage uses is not needed",
    );
    assert.deepEqual(
      model.nodes.filter((node) => node.kind === "stage").map((node) => [node.label, node.needed, node.target, node.wave]),
      [["assets", true, false, 0], ["template", true, false, 0], ["site", true, true, 1], ["unused", false, false, null]],
    );
    assert.equal(byId["stage-2"].detail, "from template");
    assert.equal(byId["stage-2"].line, 5);
  });

  test("edges keep their kind, ONBUILD mark and lines; repeated COPY --from collapse", () => {
    const model = graph.buildModel(planOf(EDGES, ["site"]), IMAGE_BOXES);
    const edges = model.edges.map((edge) => `${edge.from}->${edge.to} ${edge.kind}${edge.onbuild ? " onbuild" : ""} ${edge.lines.join(",")} ${edge.needed}`);
    assert.ok(edges.includes("stage-1->stage-2 from 5 true"), edges.join("\n"));
    assert.ok(edges.includes("stage-0->stage-2 copy onbuild 4 true"), edges.join("\n"));
    assert.ok(edges.includes("stage-0->stage-2 mount 6 true"), edges.join("\n"));
    assert.ok(edges.includes("stage-0->stage-2 copy 7,8 true"), edges.join("\n"));
    assert.ok(edges.includes("stage-2->stage-3 copy 10 false"), edges.join("\n"));
    assert.ok(edges.includes("image-busybox:1.36->stage-3 from 9 false"), edges.join("\n"));
  });

  test("scratch is not drawn; unnamed stages are called by index", () => {
    const model = graph.buildModel(planOf("FROM scratch\nCOPY a /a\n"), IMAGE_BOXES);
    assert.deepEqual(model.nodes.map((node) => [node.label, node.detail, node.stageName]), [["stage 0", "from scratch", null]]);
    assert.deepEqual(model.edges, []);
  });

  test("stageAtLine finds the stage whose lines hold the cursor", () => {
    const plan = planOf(EDGES);
    assert.deepEqual([1, 2, 3, 4, 5, 8, 9, 11].map((line) => graph.stageAtLine(plan, line)), [0, 0, 1, 1, 2, 2, 3, 3]);
  });
});

describe("graph views, find and lineage", () => {
  test("images fold into a badge on each stage that uses them unless shown as boxes", () => {
    const model = graph.buildModel(planOf(EDGES, ["site"]));
    assert.equal(model.nodes.filter((node) => node.kind === "image").length, 0);
    assert.ok(model.edges.every((edge) => edge.from.startsWith("stage-")), "no edge from an image");
    const images = Object.fromEntries(model.nodes.map((node) => [node.label, node.images]));
    assert.deepEqual(images, { assets: ["alpine:3.20"], template: ["alpine:3.20"], site: [], unused: ["busybox:1.36"] });
  });

  test("focus shows exactly the needed stages and folds the skipped ones into one marker", () => {
    for (const { name, text } of LARGE) {
      const plan = planOf(text);
      const model = graph.buildModel(plan, { focus: true, images: false });
      const needed = plan.stages.filter((stage) => stage.needed).map((stage) => `stage-${stage.index}`);
      const stages = model.nodes.filter((node) => node.kind === "stage").map((node) => node.id);
      assert.deepEqual(stages, needed, name);
      const skipped = plan.stages.length - needed.length;
      assert.equal(model.folded, skipped, name);
      assert.deepEqual(model.nodes.filter((node) => node.kind === "fold").map((node) => node.label), skipped ? [`${skipped} skipped`] : [], name);
      const ids = new Set(model.nodes.map((node) => node.id));
      assert.ok(model.edges.every((edge) => ids.has(edge.from) && ids.has(edge.to)), `${name}: every edge joins drawn nodes`);
    }
  });

  test("needed stages stand in their wave's column; every edge points right", () => {
    for (const { name, text } of LARGE) {
      const plan = planOf(text);
      const layers = graph.stageLayers(plan);
      plan.waves.forEach((wave, waveIdx) => wave.forEach((stageIdx) => assert.equal(layers[stageIdx], waveIdx, `${name} stage ${stageIdx}`)));
      for (const view of [IMAGE_BOXES, { focus: false, images: false }]) {
        const model = graph.buildModel(plan, view);
        const layerOf = Object.fromEntries(model.nodes.map((node) => [node.id, node.layer]));
        for (const edge of model.edges) assert.ok(layerOf[edge.from] < layerOf[edge.to], `${name}: ${edge.id}`);
      }
    }
  });

  test("lineage: the ancestors and descendants of a stage", () => {
    const plan = planOf(EDGES, ["site"]);
    const { ancestors, descendants } = graph.lineage(plan, 2);
    assert.deepEqual([...ancestors].sort(), [0, 1]);
    assert.deepEqual([...descendants].sort(), [3]);
  });

  test("find: the exact name first, then prefixes, then substrings; stage N for unnamed stages", () => {
    const stages = [{ index: 0, name: "build" }, { index: 1, name: "build-deps" }, { index: 2, name: "prebuild" }, { index: 3, name: null }];
    assert.deepEqual(graph.findStages(stages, "build"), [0, 1, 2]);
    assert.deepEqual(graph.findStages(stages, "BUILD-"), [1]);
    assert.deepEqual(graph.findStages(stages, "stage 3"), [3]);
    assert.deepEqual(graph.findStages(stages, "3"), [3]);
    assert.deepEqual(graph.findStages(stages, "nothing"), []);
    assert.deepEqual(graph.findStages(stages, "  "), []);
  });
});

/** Checks what every layout must hold: edges left to right, no overlaps, all inside, lanes clear of boxes. */
function checkLayout(layout, label) {
  const box = Object.fromEntries(layout.nodes.map((node) => [node.id, node]));
  for (const edge of layout.edges) {
    assert.ok(box[edge.from].x + box[edge.from].width <= box[edge.to].x, `${label}: ${edge.id} points left to right`);
    for (const point of edge.points) {
      assert.ok(point.x >= 0 && point.y >= 0 && point.x <= layout.width && point.y <= layout.height, `${label}: ${edge.id} inside`);
    }
    // Level runs (inside a column) never pass through a box other than the edge's own ends.
    for (let i = 1; i < edge.points.length; i++) {
      const [a, b] = [edge.points[i - 1], edge.points[i]];
      if (a.y !== b.y) continue;
      for (const node of layout.nodes) {
        if (node.id === edge.from || node.id === edge.to) continue;
        const across = Math.min(a.x, b.x) < node.x + node.width && Math.max(a.x, b.x) > node.x;
        assert.ok(!(across && a.y > node.y && a.y < node.y + node.height), `${label}: ${edge.id} runs through ${node.id}`);
      }
    }
  }
  for (const a of layout.nodes) {
    assert.ok(a.x >= 0 && a.y >= 0 && a.x + a.width <= layout.width && a.y + a.height <= layout.height, `${label}: ${a.id} inside`);
    for (const b of layout.nodes) {
      if (a === b) continue;
      const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
      assert.ok(apart, `${label}: ${a.id} and ${b.id} overlap`);
    }
  }
}

/** Node positions relative to the median shift between two layouts; the ids that moved more than `tolerance`. */
function movedNodes(before, after, tolerance) {
  const old = Object.fromEntries(before.nodes.map((node) => [node.id, node]));
  const shared = after.nodes.filter((node) => old[node.id]);
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const dx = median(shared.map((node) => node.x - old[node.id].x));
  const dy = median(shared.map((node) => node.y - old[node.id].y));
  return shared
    .filter((node) => Math.abs(node.x - old[node.id].x - dx) > tolerance || Math.abs(node.y - old[node.id].y - dy) > tolerance)
    .map((node) => node.id);
}

describe("graph layout", () => {
  test("small graph: dependencies left of dependents, no overlaps, all inside", () => {
    checkLayout(graph.layoutGraph(graph.buildModel(planOf(EDGES, ["site"]), IMAGE_BOXES)), "edges example");
  });

  test("the real 49-98 stage Dockerfiles, in every view", () => {
    for (const { name, text } of LARGE) {
      const plan = planOf(text);
      for (const [label, view] of graph.MEASURED_VIEWS) checkLayout(graph.layoutGraph(graph.buildModel(plan, view)), `${name} (${label})`);
    }
  });

  test("the crossing count: an X is one crossing, edges sharing a box are none", () => {
    const edge = (points) => ({ points: points.map(([x, y]) => ({ x, y })) });
    assert.equal(graph.countCrossings({ edges: [edge([[0, 0], [10, 10]]), edge([[0, 10], [10, 0]])] }), 1);
    assert.equal(graph.countCrossings({ edges: [edge([[0, 0], [10, 10]]), edge([[0, 0], [10, 0]])] }), 0, "common start");
    assert.equal(graph.countCrossings({ edges: [edge([[0, 0], [5, 0], [10, 10]]), edge([[0, 10], [5, 10], [10, 0]])] }), 1);
    assert.equal(graph.countCrossings({ edges: [edge([[0, 0], [10, 0]]), edge([[0, 5], [10, 5]])] }), 0);
  });

  test("the crossing reduction leaves fewer crossings than the file order", () => {
    for (const { name, text } of LARGE) {
      const model = graph.buildModel(planOf(text), IMAGE_BOXES);
      // Laid out "after" a layout that had every box in file order: the order is kept, so this
      // is the layout without crossing reduction.
      const fileOrder = graph.layoutGraph(model);
      const centres = { ...fileOrder.centres };
      model.nodes.forEach((node, idx) => (centres[node.id] = idx * 100));
      for (const key of Object.keys(centres)) if (key.includes("@")) delete centres[key];
      const unordered = graph.layoutGraph(model, { ...fileOrder, centres });
      assert.ok(graph.countCrossings(fileOrder) < graph.countCrossings(unordered), `${name}: ${graph.countCrossings(fileOrder)} vs ${graph.countCrossings(unordered)} in file order`);
    }
  });

  test("stable: a one-line edit that keeps the graph moves nothing; one that adds an edge moves at most its ends", () => {
    for (const { name, text } of LARGE) {
      const lines = text.split("\n");
      const plan = planOf(text);
      const before = graph.layoutGraph(graph.buildModel(plan));
      // Change a RUN line that is complete on its own line.
      const runIdx = lines.findIndex((line) => /^RUN [^\\]*$/.test(line) && !line.includes("<<"));
      const changed = [...lines];
      changed[runIdx] += " && true";
      const same = graph.layoutGraph(graph.buildModel(planOf(changed.join("\n"))), before);
      assert.deepEqual(same.nodes.map((node) => [node.id, node.x, node.y]), before.nodes.map((node) => [node.id, node.x, node.y]), `${name}: RUN edit`);
      // Add `COPY --from=<an earlier stage>` under a stage's FROM where it keeps that stage's column.
      const layers = graph.stageLayers(plan);
      let tried = 0;
      for (const stage of plan.stages) {
        const source = plan.stages.find((other) => other.name && other.index < stage.index && layers[other.index] < layers[stage.index] - 1 && !stage.depends_on.includes(other.index));
        if (!source || tried >= 6 || stage.index % 5 !== 0) continue;
        tried++;
        const edited = [...lines.slice(0, stage.location.end_line), `COPY --from=${source.name} /x /x`, ...lines.slice(stage.location.end_line)].join("\n");
        const next = planOf(edited);
        assert.deepEqual(graph.stageLayers(next), layers, `${name}: the edit keeps every column`);
        const after = graph.layoutGraph(graph.buildModel(next), before);
        const moved = movedNodes(before, after, graph.METRICS.height / 2).filter((id) => id !== `stage-${stage.index}` && id !== `stage-${source.index}`);
        assert.deepEqual(moved, [], `${name}: COPY --from=${source.name} in stage ${stage.index} moved other boxes by half a box or more`);
      }
      assert.ok(tried > 0, `${name}: an edit was tried`);
    }
  });

  test("the edge under the pointer is found on the drawn curve, not only near its corners", async () => {
    const hover = await vite.ssrLoadModule("/src/graph/hover.ts");
    const edges = [{ points: [{ x: 0, y: 0 }, { x: 100, y: 100 }] }, { points: [{ x: 0, y: 100 }, { x: 100, y: 100 }] }];
    const finder = new hover.EdgeFinder(edges);
    // The S-curve from (0,0) to (100,100) with level ends passes (50,50); near its start it runs level.
    assert.equal(finder.nearest(50, 50, 3), 0);
    assert.equal(finder.nearest(10, 2, 3), 0, "on the curve's level start, far from the straight chord");
    assert.equal(finder.nearest(50, 99, 3), 1);
    assert.equal(finder.nearest(50, 75, 3), -1);
  });

  test("long names are shortened with an ellipsis and the layout is deterministic", () => {
    const long = `FROM registry.example.com/a/very/long/path/to/an/image/name:1.2.3-with-a-long-tag AS ${"x".repeat(40)}\n`;
    const first = graph.layoutGraph(graph.buildModel(planOf(long), IMAGE_BOXES));
    const image = first.nodes.find((node) => node.kind === "image");
    assert.ok(image.labelText.endsWith("…") && [...image.labelText].length === graph.METRICS.maxLabelChars);
    assert.deepEqual(graph.layoutGraph(graph.buildModel(planOf(long), IMAGE_BOXES)), first);
    assert.deepEqual(graph.layoutGraph({ nodes: [], edges: [], folded: 0 }), { nodes: [], edges: [], width: 0, height: 0, centres: {} });
  });
});
