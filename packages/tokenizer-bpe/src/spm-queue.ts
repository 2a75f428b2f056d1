/**
 * The plain merge loop's queue (spm.ts, `mergeSymbols`; llama.cpp's `llm_bigram_spm` queue): a
 * binary max-heap of candidate merges (bigrams), highest score first, then the leftmost. Each
 * entry is five numbers kept in typed arrays, not an object: a 50 MB run queues hundreds of
 * millions of candidates, and objects that many outlive the young generation and grew the heap
 * past a gigabyte.
 *
 *   entry k: score[k] | left[k] | right[k] (symbol indexes) | size[k] (units) | id[k] (the piece they make)
 */
export class BigramQueue {
  private score = new Float64Array(256);
  private left = new Int32Array(256);
  private right = new Int32Array(256);
  private size = new Int32Array(256);
  private id = new Int32Array(256);
  length = 0;
  /** The entry `pop` took. */
  topLeft = 0;
  topRight = 0;
  topSize = 0;
  topId = 0;

  /** Does entry a come out before the candidate (score, left)? */
  private before(a: number, score: number, left: number): boolean {
    return this.score[a] > score || (this.score[a] === score && this.left[a] < left);
  }

  push(score: number, left: number, right: number, size: number, id: number): void {
    if (this.length === this.score.length) this.grow();
    let i = this.length++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!(score > this.score[parent] || (score === this.score[parent] && left < this.left[parent]))) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, score, left, right, size, id);
  }

  pop(): void {
    this.topLeft = this.left[0];
    this.topRight = this.right[0];
    this.topSize = this.size[0];
    this.topId = this.id[0];
    const last = --this.length;
    if (last === 0) return;
    const score = this.score[last];
    const left = this.left[last];
    const right = this.right[last];
    const size = this.size[last];
    const id = this.id[last];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const child = r < last && this.before(r, this.score[l], this.left[l]) ? r : l;
      if (!this.before(child, score, left)) break;
      this.move(child, i);
      i = child;
    }
    this.set(i, score, left, right, size, id);
  }

  private set(i: number, score: number, left: number, right: number, size: number, id: number): void {
    this.score[i] = score;
    this.left[i] = left;
    this.right[i] = right;
    this.size[i] = size;
    this.id[i] = id;
  }

  private move(from: number, to: number): void {
    this.set(to, this.score[from], this.left[from], this.right[from], this.size[from], this.id[from]);
  }

  private grow(): void {
    const n = this.score.length * 2;
    const grown = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.score = grown(this.score, (k) => new Float64Array(k));
    this.left = grown(this.left, (k) => new Int32Array(k));
    this.right = grown(this.right, (k) => new Int32Array(k));
    this.size = grown(this.size, (k) => new Int32Array(k));
    this.id = grown(this.id, (k) => new Int32Array(k));
  }
}
