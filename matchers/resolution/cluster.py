"""Clustering: connected components over the accepted links, with a guard against chaining.

A cluster never holds two different valid IDs. Components that would are rebuilt greedily from
their strongest link down (a maximum spanning forest that refuses any link joining two valid IDs),
which splits them at their weakest links. Components are found with vectorised numpy label
propagation; Python only walks the edges of the (rare) conflicting components.
"""

from __future__ import annotations

import numpy as np


def connected_components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Component label (smallest node index of the component) of every node."""
    labels = np.arange(n_nodes, dtype=np.int64)
    if len(a) == 0:
        return labels
    while True:
        low = np.minimum(labels[a], labels[b])
        before = labels.copy()
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        # pointer jumping: follow labels to their fixed point
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(before, labels):
            return labels


def guarded_clusters(
    n_nodes: int,
    a: np.ndarray,
    b: np.ndarray,
    weight: np.ndarray,
    valid_id: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Cluster label per node, a mask of the kept links, and the number of links cut by the guard.

    `valid_id[node]` is an integer code of the node's valid ID (-1 for none); nodes are already
    one per valid ID, so two valid-ID nodes in one cluster always means two different IDs.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    kept = np.ones(len(a), dtype=bool)
    labels = connected_components(n_nodes, a, b)
    has_id = valid_id >= 0
    ids_per_label = np.bincount(labels[has_id], minlength=n_nodes)
    conflicted = ids_per_label[labels[a]] >= 2 if len(a) else np.zeros(0, dtype=bool)
    cut = 0
    if conflicted.any():
        edge_idx = np.flatnonzero(conflicted)
        order = edge_idx[np.argsort(-weight[edge_idx], kind="stable")]
        parent: dict[int, int] = {}
        holds_id: dict[int, bool] = {}

        def find(x: int) -> int:
            root = x
            while parent.get(root, root) != root:
                root = parent[root]
            while parent.get(x, x) != root:
                parent[x], x = root, parent[x]
            return root

        for e in order:
            x, y = int(a[e]), int(b[e])
            rx, ry = find(x), find(y)
            if rx == ry:
                continue
            idx_x = holds_id.get(rx, bool(has_id[rx]))
            idx_y = holds_id.get(ry, bool(has_id[ry]))
            if idx_x and idx_y:
                kept[e] = False
                cut += 1
                continue
            parent[ry] = rx
            holds_id[rx] = idx_x or idx_y
        labels = connected_components(n_nodes, a[kept], b[kept])
    return labels, kept, cut
