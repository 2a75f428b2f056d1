/*
 * A Llama forward pass in plain C, the peer that bench/vs-c.mjs times our decode against.
 * Written for this repository from the architecture (RMSNorm -> q, k, v -> RoPE on adjacent
 * pairs -> grouped-query attention over a KV cache -> o -> residual -> RMSNorm -> SwiGLU MLP ->
 * residual, per layer; final RMSNorm; tied classifier), in f32, one token at a time, with every
 * matrix x vector product split across OpenMP threads: the same work llama2.c's run.c does, so
 * its figure in DESIGN.md can be reproduced in the same run as ours.
 *
 * Weights are random and generated exactly as randomWeights() of @zero-llm/transformer does
 * (same LCG, same tensor order, uniform in +-1/sqrt(fan_in), norms 1), so with the same shape
 * both programs run the same model and their greedy tokens can be compared.
 *
 *   cc -Ofast -march=native -fopenmp forward.c -o forward -lm
 *   OMP_NUM_THREADS=2 ./forward dim hidden layers heads kv_heads vocab seq prompt_len new_tokens
 *
 * Prints one JSON line: {"tokens_per_s": decode rate over the new tokens, "tokens": [greedy ids],
 * "max_rss_kb": peak resident memory (getrusage), for bench/memory.mjs}.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

typedef struct {
  int dim, hidden, layers, heads, kv_heads, vocab, seq;
} Config;

/* One block's weights, row-major [out, in] like nn.Linear. */
typedef struct {
  float *attn_norm;            /* [dim] */
  float *wq, *wk, *wv, *wo;    /* [dim, dim], [kv_dim, dim], [kv_dim, dim], [dim, dim] */
  float *ffn_norm;             /* [dim] */
  float *w_gate, *w_up;        /* [hidden, dim] */
  float *w_down;               /* [dim, hidden] */
} Layer;

typedef struct {
  float *embed;                /* [vocab, dim], also the classifier (tied) */
  Layer *layer;
  float *final_norm;           /* [dim] */
} Weights;

/* Every buffer a step writes, allocated once. */
typedef struct {
  float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2, *scores, *logits;
  float *key_cache, *value_cache; /* [layers, seq, kv_dim]: position-major rows */
  float *rope_cos, *rope_sin;     /* [seq, head_dim / 2] */
} State;

static uint32_t lcg_state;

/* The recurrence of randomWeights(): seed' = 1664525 seed + 1013904223 (mod 2^32). */
static float lcg_uniform(double scale) {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return (float)(((double)lcg_state / 4294967296.0 * 2.0 - 1.0) * scale);
}

static float *tensor(size_t n, int fan_in) {
  float *t = malloc(n * sizeof(float));
  if (!t) { fprintf(stderr, "out of memory\n"); exit(1); }
  if (fan_in == 0) { for (size_t i = 0; i < n; i++) t[i] = 1.0f; return t; } /* a norm weight */
  double scale = 1.0 / sqrt((double)fan_in);
  for (size_t i = 0; i < n; i++) t[i] = lcg_uniform(scale);
  return t;
}

/* Same order as weightShapes(): embed, then per layer input norm, q, k, v, o, post norm, gate, up, down, then the final norm. */
static void random_weights(const Config *c, Weights *w, uint32_t seed) {
  int kv_dim = c->dim / c->heads * c->kv_heads;
  lcg_state = seed;
  w->embed = tensor((size_t)c->vocab * c->dim, c->dim);
  w->layer = calloc(c->layers, sizeof(Layer));
  for (int l = 0; l < c->layers; l++) {
    Layer *L = &w->layer[l];
    L->attn_norm = tensor(c->dim, 0);
    L->wq = tensor((size_t)c->dim * c->dim, c->dim);
    L->wk = tensor((size_t)kv_dim * c->dim, c->dim);
    L->wv = tensor((size_t)kv_dim * c->dim, c->dim);
    L->wo = tensor((size_t)c->dim * c->dim, c->dim);
    L->ffn_norm = tensor(c->dim, 0);
    L->w_gate = tensor((size_t)c->hidden * c->dim, c->dim);
    L->w_up = tensor((size_t)c->hidden * c->dim, c->dim);
    L->w_down = tensor((size_t)c->dim * c->hidden, c->hidden);
  }
  w->final_norm = tensor(c->dim, 0);
}

static void alloc_state(const Config *c, State *s) {
  int kv_dim = c->dim / c->heads * c->kv_heads, half = c->dim / c->heads / 2;
  s->x = calloc(c->dim, sizeof(float));
  s->xb = calloc(c->dim, sizeof(float));
  s->xb2 = calloc(c->dim, sizeof(float));
  s->q = calloc(c->dim, sizeof(float));
  s->k = calloc(kv_dim, sizeof(float));
  s->v = calloc(kv_dim, sizeof(float));
  s->hb = calloc(c->hidden, sizeof(float));
  s->hb2 = calloc(c->hidden, sizeof(float));
  s->scores = calloc(c->seq, sizeof(float));
  s->logits = calloc(c->vocab, sizeof(float));
  s->key_cache = calloc((size_t)c->layers * c->seq * kv_dim, sizeof(float));
  s->value_cache = calloc((size_t)c->layers * c->seq * kv_dim, sizeof(float));
  s->rope_cos = malloc((size_t)c->seq * half * sizeof(float));
  s->rope_sin = malloc((size_t)c->seq * half * sizeof(float));
  /* pair i of a head turns by pos * 10000^(-2i / head_dim) */
  for (int pos = 0; pos < c->seq; pos++) {
    for (int i = 0; i < half; i++) {
      double angle = pos * pow(10000.0, -2.0 * i / (2.0 * half));
      s->rope_cos[pos * half + i] = (float)cos(angle);
      s->rope_sin[pos * half + i] = (float)sin(angle);
    }
  }
}

/* out[r] = sum_c w[r, c] x[c]; rows split across threads, each row read once from memory. */
static void matvec(float *out, const float *w, const float *x, int rows, int cols) {
  #pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *row = w + (size_t)r * cols;
    float sum = 0.0f;
    for (int c = 0; c < cols; c++) sum += row[c] * x[c];
    out[r] = sum;
  }
}

static void rmsnorm(float *out, const float *x, const float *weight, int n) {
  float ss = 0.0f;
  for (int i = 0; i < n; i++) ss += x[i] * x[i];
  float inv = 1.0f / sqrtf(ss / n + 1e-5f);
  for (int i = 0; i < n; i++) out[i] = x[i] * inv * weight[i];
}

/* Rotates adjacent pairs (x[2i], x[2i+1]) of each of `n_heads` heads at position `pos`. */
static void rope(float *x, int n_heads, int head_dim, const float *cos_row, const float *sin_row) {
  for (int h = 0; h < n_heads; h++) {
    float *v = x + h * head_dim;
    for (int i = 0; i < head_dim / 2; i++) {
      float a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * cos_row[i] - b * sin_row[i];
      v[2 * i + 1] = a * sin_row[i] + b * cos_row[i];
    }
  }
}

static void softmax(float *x, int n) {
  float max = x[0];
  for (int i = 1; i < n; i++) if (x[i] > max) max = x[i];
  float sum = 0.0f;
  for (int i = 0; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
  for (int i = 0; i < n; i++) x[i] /= sum;
}

/* One token at position pos through the model; returns the logits of the next token. */
static float *forward(const Config *c, const Weights *w, State *s, int token, int pos) {
  int head_dim = c->dim / c->heads, kv_dim = head_dim * c->kv_heads, group = c->heads / c->kv_heads;
  int half = head_dim / 2;
  memcpy(s->x, w->embed + (size_t)token * c->dim, c->dim * sizeof(float));

  for (int l = 0; l < c->layers; l++) {
    const Layer *L = &w->layer[l];
    float *keys = s->key_cache + (size_t)l * c->seq * kv_dim;
    float *values = s->value_cache + (size_t)l * c->seq * kv_dim;

    /* attention: x += wo . attend(q, K[0..pos], V[0..pos]) */
    rmsnorm(s->xb, s->x, L->attn_norm, c->dim);
    matvec(s->q, L->wq, s->xb, c->dim, c->dim);
    matvec(s->k, L->wk, s->xb, kv_dim, c->dim);
    matvec(s->v, L->wv, s->xb, kv_dim, c->dim);
    rope(s->q, c->heads, head_dim, s->rope_cos + pos * half, s->rope_sin + pos * half);
    rope(s->k, c->kv_heads, head_dim, s->rope_cos + pos * half, s->rope_sin + pos * half);
    memcpy(keys + (size_t)pos * kv_dim, s->k, kv_dim * sizeof(float));
    memcpy(values + (size_t)pos * kv_dim, s->v, kv_dim * sizeof(float));
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int h = 0; h < c->heads; h++) {
      const float *q = s->q + h * head_dim;
      int kv_off = (h / group) * head_dim;
      for (int t = 0; t <= pos; t++) {
        const float *k = keys + (size_t)t * kv_dim + kv_off;
        float dot = 0.0f;
        for (int d = 0; d < head_dim; d++) dot += q[d] * k[d];
        s->scores[t] = dot * scale;
      }
      softmax(s->scores, pos + 1);
      float *out = s->xb + h * head_dim;
      memset(out, 0, head_dim * sizeof(float));
      for (int t = 0; t <= pos; t++) {
        const float *v = values + (size_t)t * kv_dim + kv_off;
        float p = s->scores[t];
        for (int d = 0; d < head_dim; d++) out[d] += p * v[d];
      }
    }
    matvec(s->xb2, L->wo, s->xb, c->dim, c->dim);
    for (int i = 0; i < c->dim; i++) s->x[i] += s->xb2[i];

    /* MLP: x += down(silu(gate . x) * (up . x)) */
    rmsnorm(s->xb, s->x, L->ffn_norm, c->dim);
    matvec(s->hb, L->w_gate, s->xb, c->hidden, c->dim);
    matvec(s->hb2, L->w_up, s->xb, c->hidden, c->dim);
    for (int i = 0; i < c->hidden; i++) {
      float g = s->hb[i];
      s->hb[i] = g / (1.0f + expf(-g)) * s->hb2[i];
    }
    matvec(s->xb2, L->w_down, s->hb, c->dim, c->hidden);
    for (int i = 0; i < c->dim; i++) s->x[i] += s->xb2[i];
  }

  rmsnorm(s->xb, s->x, w->final_norm, c->dim);
  matvec(s->logits, w->embed, s->xb, c->vocab, c->dim);
  return s->logits;
}

static int argmax(const float *x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
  return best;
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 10) {
    fprintf(stderr, "usage: %s dim hidden layers heads kv_heads vocab seq prompt_len new_tokens [seed]\n", argv[0]);
    return 2;
  }
  Config c = { atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]) };
  int prompt_len = atoi(argv[8]), new_tokens = atoi(argv[9]);
  uint32_t seed = argc > 10 ? (uint32_t)strtoul(argv[10], NULL, 10) : 1u;
  if (c.dim <= 0 || c.heads <= 0 || c.kv_heads <= 0 || c.dim % c.heads || c.heads % c.kv_heads || (c.dim / c.heads) % 2 ||
      c.hidden <= 0 || c.layers <= 0 || c.vocab <= 0 || prompt_len < 1 || new_tokens < 1 || prompt_len + new_tokens > c.seq) {
    fprintf(stderr, "forward: expected a valid shape with prompt_len + new_tokens <= seq\n");
    return 2;
  }
  Weights w;
  State s;
  random_weights(&c, &w, seed);
  alloc_state(&c, &s);

  /* the prompt bench/vs-c.mjs feeds ours too: token i = (i * 7919 + 1) mod vocab */
  int pos = 0, token = 0;
  float *logits = NULL;
  for (; pos < prompt_len; pos++) logits = forward(&c, &w, &s, (int)(((long)pos * 7919 + 1) % c.vocab), pos);
  int *out = malloc(new_tokens * sizeof(int));
  double t0 = now_seconds();
  for (int n = 0; n < new_tokens; n++) {
    token = argmax(logits, c.vocab);
    out[n] = token;
    if (n + 1 < new_tokens) logits = forward(&c, &w, &s, token, pos++);
  }
  double seconds = now_seconds() - t0;
  /* new_tokens - 1 forwards ran after the first pick */
  printf("{\"tokens_per_s\": %.3f, \"tokens\": [", new_tokens > 1 ? (new_tokens - 1) / seconds : 0.0);
  for (int n = 0; n < new_tokens; n++) printf(n ? ",%d" : "%d", out[n]);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  printf("], \"max_rss_kb\": %ld}\n", usage.ru_maxrss);
  return 0;
}
