/* Layered layout off the page's thread: dagre computes positions, the page
 * applies them with cytoscape's preset layout.
 *
 * In:  {seq, nodes: [{id, parent, width, height}], edges: [{source, target}]}
 *      (parent: a compound node's id, or null; compound nodes are listed
 *      too, with no size: dagre sizes them around their children)
 * Out: {seq, positions: {id: {x, y}}} for the nodes that are not compound,
 *      or {seq, error}. */
'use strict';
importScripts('@ASSET(dagre.min.js)@');

self.onmessage = function (event) {
  const { seq, nodes, edges } = event.data;
  try {
    const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
    g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 90, edgesep: 12, marginx: 10, marginy: 10 });
    g.setDefaultEdgeLabel(function () { return {}; });
    const parents = new Set();
    for (const n of nodes) {
      if (n.parent) parents.add(n.parent);
    }
    for (const n of nodes) {
      g.setNode(n.id, parents.has(n.id) ? {} : { width: n.width || 40, height: n.height || 40 });
    }
    for (const n of nodes) {
      if (n.parent) g.setParent(n.id, n.parent);
    }
    let k = 0;
    for (const e of edges) {
      if (e.source !== e.target && g.hasNode(e.source) && g.hasNode(e.target)) {
        g.setEdge(e.source, e.target, { minlen: 1 }, 'e' + k++);
      }
    }
    dagre.layout(g);
    const positions = {};
    for (const id of g.nodes()) {
      if (parents.has(id)) continue;
      const n = g.node(id);
      positions[id] = { x: n.x, y: n.y };
    }
    self.postMessage({ seq, positions });
  } catch (err) {
    self.postMessage({ seq, error: String(err && err.message || err) });
  }
};
