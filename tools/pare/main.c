/* pare command-line interface: a thin layer over the library. */
#include "cli.h"

#include <string.h>

static const char *HELP =
    "pare " PARE_VERSION ": make transformer models smaller and faster, and measure what it costs\n"
    "\n"
    "usage: pare COMMAND [options]     (pare COMMAND --help for each command)\n"
    "\n"
    "commands:\n"
    "  info MODEL|FILE         architecture, parameters, dtype mix, size on disk and in memory\n"
    "                          (FILE: .safetensors, PyTorch .bin or llama.cpp .gguf)\n"
    "  embed MODEL ...         sentence embeddings as JSON lines (--text / --file)\n"
    "  classify MODEL ...      labels and probabilities as JSON lines (--text / --file)\n"
    "  quantize MODEL -o OUT   int8 model folder (W8A8 dynamic/static, weight-only); GGUF: rtn, gptq, awq\n"
    "  prune MODEL.gguf -o OUT magnitude, Wanda or SparseGPT pruning of a decoder (unstructured or n:m)\n"
    "  finetune MODEL --data F fine-tune an encoder classifier (or distil one with --teacher)\n"
    "  distill TEACHER --data F  distil a classifier into every other layer of itself\n"
    "  eval MODEL --data F     score a classifier on the test split (exact match, F1)\n"
    "  generate MODEL ...      stream text from a Llama-family GGUF (--prompt, --chat, sampling)\n"
    "  perplexity MODEL FILE   perplexity on a text file, llama.cpp's windowing (--ctx, --stride)\n"
    "  tokenize MODEL ...      BPE ids of texts as JSON lines (GGUF tokenizer; --text / --file)\n"
    "  experiment run FILE     run a model x pipeline matrix into a SQLite results database\n"
    "  experiment report DB    markdown + HTML report with charts, CSV and JSON\n"
    "  bench MODEL ...         encoder latency (p50/p90/p99) and GFLOP/s; decoder tokens/s\n"
    "  peak                    this machine's fp32 FMA peak and memory read bandwidth\n"
    "  dev random-bert ...     write a random-weight BERT folder of any shape\n"
    "  dev random-llama ...    write a random-weight Llama/Mistral/Qwen2 folder of any shape\n"
    "\n"
    "common options: --threads N (default $PARE_THREADS or all cores), --kernel\n"
    "auto|avx512|avx2|blas|ref, --json. MODEL is a Hugging Face folder (config.json,\n"
    "model.safetensors or pytorch_model.bin, tokenizer.json or vocab.txt); info also\n"
    "reads Llama-family decoder folders (llama, mistral, qwen2).\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 bad usage or a missing/malformed input file.\n"
    "\n"
    "examples:\n"
    "  pare info .cache/models/minilm-l6\n"
    "  pare info .cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf\n"
    "  pare embed .cache/models/minilm-l6 --text \"what a day\"\n"
    "  pare embed .cache/models/minilm-l6 --file tweets.tsv --column Tweet --limit 100\n"
    "  pare bench .cache/models/minilm-l6 --batch 8 --seq 128\n"
    "  pare experiment run experiments/demo.yaml --db .cache/demo/results.db\n";

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"info", cmd_info},   {"embed", cmd_embed}, {"classify", cmd_classify},
        {"bench", cmd_bench}, {"peak", cmd_peak},   {"dev", cmd_dev},
        {"quantize", cmd_quantize}, {"prune", cmd_prune}, {"finetune", cmd_finetune}, {"distill", cmd_distill}, {"eval", cmd_eval}, {"generate", cmd_generate}, {"perplexity", cmd_perplexity}, {"tokenize", cmd_tokenize},
        {"experiment", cmd_experiment},
    };
    if (argc < 2) {
        fputs(HELP, stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(HELP, stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("pare %s\n", PARE_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pare: unknown command '%s' (pare --help lists them)\n", argv[1]);
    return CLI_USAGE;
}
