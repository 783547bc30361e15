/**
 * The trust graph of a weight matrix and its strongly connected components (SPEC §1.3 step 2):
 * an edge i -> j wherever W_ij > 0. Pure, deterministic (uids and edges visited in ascending order).
 */

/** Compressed sparse rows of the non-zero weights: row i's entries are `cols/vals[start[i] .. start[i+1])`. */
export interface SparseRows {
  n: number;
  start: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
  /** Sum of each row (exact: at most 4096 * 65535). */
  rowSum: Float64Array;
}

export function toSparseRows(weights: ArrayLike<ArrayLike<number>>): SparseRows {
  const n = weights.length;
  const start = new Int32Array(n + 1);
  let nnz = 0;
  for (let i = 0; i < n; i++) {
    const row = weights[i];
    for (let j = 0; j < n; j++) if (row[j] !== 0) nnz++;
    start[i + 1] = nnz;
  }
  const cols = new Int32Array(nnz);
  const vals = new Float64Array(nnz);
  const rowSum = new Float64Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const row = weights[i];
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const w = row[j];
      if (w !== 0) {
        cols[at] = j;
        vals[at] = w;
        sum += w;
        at++;
      }
    }
    rowSum[i] = sum;
  }
  return { n, start, cols, vals, rowSum };
}

export interface Components {
  /** Component id of each uid. Ids follow Tarjan's order: a component's successors have smaller ids. */
  componentOf: Int32Array;
  /** Members of each component, ascending. */
  members: number[][];
  /** Whether each component is closed (no edge leaves it). */
  closed: boolean[];
}

/** Strongly connected components by Tarjan's algorithm, iteratively (no recursion limit). */
export function stronglyConnectedComponents(g: SparseRows): Components {
  const { n, start, cols } = g;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const componentOf = new Int32Array(n).fill(-1);
  const members: number[][] = [];
  const callStack: number[] = []; // pairs (node, next edge position)
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    callStack.push(root, start[root]);
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (callStack.length > 0) {
      const top = callStack.length - 2;
      const v = callStack[top];
      const e = callStack[top + 1];
      if (e < start[v + 1]) {
        callStack[top + 1] = e + 1;
        const w = cols[e];
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          callStack.push(w, start[w]);
        } else if (onStack[w] && index[w] < low[v]) {
          low[v] = index[w];
        }
        continue;
      }
      callStack.length = top;
      if (top > 0) {
        const parent = callStack[top - 2];
        if (low[v] < low[parent]) low[parent] = low[v];
      }
      if (low[v] === index[v]) {
        const id = members.length;
        const component: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          componentOf[w] = id;
          component.push(w);
        } while (w !== v);
        component.sort((a, b) => a - b);
        members.push(component);
      }
    }
  }
  const closed = members.map((component, id) =>
    component.every((i) => {
      for (let e = start[i]; e < start[i + 1]; e++) if (componentOf[cols[e]] !== id) return false;
      return true;
    }),
  );
  return { componentOf, members, closed };
}
