// Unit tests of the shared stage-graph module (web/src/graph): the model built from real plans
// (made by the nodejs WebAssembly package) and the dagre layout's invariants.
//
// Input: web/src/graph/*.ts, loaded through Vite's SSR module loader (TypeScript on the fly),
// and web/pkg/node. Output: test results.
// Invariant: the graph module is tested without a browser or the playground: it is pure.
import assert from "node:assert/strict";
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
  graph = {
    ...(await vite.ssrLoadModule("/src/graph/model.ts")),
    ...(await vite.ssrLoadModule("/src/graph/layout.ts")),
  };
});

after(async () => {
  await vite?.close();
});

function planOf(text, targets = []) {
  const outcome = planner.plan(text, { targets });
  assert.ok(outcome.plan, JSON.stringify(outcome.diagnostics));
  return outcome.plan;
}

describe("graph model", () => {
  test("stages and images become nodes with needed, target and wave", () => {
    const model = graph.buildModel(planOf(EDGES, ["site"]));
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
    const model = graph.buildModel(planOf(EDGES, ["site"]));
    const edges = model.edges.map((edge) => `${edge.from}->${edge.to} ${edge.kind}${edge.onbuild ? " onbuild" : ""} ${edge.lines.join(",")} ${edge.needed}`);
    assert.ok(edges.includes("stage-1->stage-2 from 5 true"), edges.join("\n"));
    assert.ok(edges.includes("stage-0->stage-2 copy onbuild 4 true"), edges.join("\n"));
    assert.ok(edges.includes("stage-0->stage-2 mount 6 true"), edges.join("\n"));
    assert.ok(edges.includes("stage-0->stage-2 copy 7,8 true"), edges.join("\n"));
    assert.ok(edges.includes("stage-2->stage-3 copy 10 false"), edges.join("\n"));
    assert.ok(edges.includes("image-busybox:1.36->stage-3 from 9 false"), edges.join("\n"));
  });

  test("scratch is not drawn; unnamed stages are called by index", () => {
    const model = graph.buildModel(planOf("FROM scratch\nCOPY a /a\n"));
    assert.deepEqual(model.nodes.map((node) => [node.label, node.detail, node.stageName]), [["stage 0", "from scratch", null]]);
    assert.deepEqual(model.edges, []);
  });

  test("stageAtLine finds the stage whose lines hold the cursor", () => {
    const plan = planOf(EDGES);
    assert.deepEqual([1, 2, 3, 4, 5, 8, 9, 11].map((line) => graph.stageAtLine(plan, line)), [0, 0, 1, 1, 2, 2, 3, 3]);
  });
});

describe("graph layout", () => {
  test("dependencies are left of their dependents, boxes do not overlap, all inside the drawing", () => {
    const layout = graph.layoutGraph(graph.buildModel(planOf(EDGES, ["site"])));
    const box = Object.fromEntries(layout.nodes.map((node) => [node.id, node]));
    for (const edge of layout.edges) {
      assert.ok(box[edge.from].x + box[edge.from].width <= box[edge.to].x, `${edge.id} points left to right`);
      for (const point of edge.points) {
        assert.ok(point.x >= 0 && point.y >= 0 && point.x <= layout.width && point.y <= layout.height, `${edge.id} inside`);
      }
    }
    for (const a of layout.nodes) {
      assert.ok(a.x >= 0 && a.y >= 0 && a.x + a.width <= layout.width && a.y + a.height <= layout.height, `${a.id} inside`);
      for (const b of layout.nodes) {
        if (a === b) continue;
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        assert.ok(apart, `${a.id} and ${b.id} overlap`);
      }
    }
  });

  test("long names are shortened with an ellipsis and the layout is deterministic", () => {
    const long = `FROM registry.example.com/a/very/long/path/to/an/image/name:1.2.3-with-a-long-tag AS ${"x".repeat(40)}\n`;
    const first = graph.layoutGraph(graph.buildModel(planOf(long)));
    const image = first.nodes.find((node) => node.kind === "image");
    assert.ok(image.labelText.endsWith("…") && [...image.labelText].length === graph.METRICS.maxLabelChars);
    assert.deepEqual(graph.layoutGraph(graph.buildModel(planOf(long))), first);
    assert.deepEqual(graph.layoutGraph({ nodes: [], edges: [] }), { nodes: [], edges: [], width: 0, height: 0 });
  });
});
