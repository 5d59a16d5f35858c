/*
 * gpt_convert.c - command line of gpt-convert.
 *
 *   gpt-convert HF_DIR   OUT.gguf [--type f32|f16|q8_0] [--name NAME]
 *   gpt-convert IN.gguf  OUT.gguf  --type q8_0|f16|f32
 *
 * The first form converts a Hugging Face GPT-2 checkpoint folder
 * (config.json, model.safetensors, vocab.json, merges.txt); the second
 * requantizes an existing gpt2 GGUF.  The output is written to OUT.tmp and
 * renamed into place.  Errors: one line on stderr, exit status 1; usage
 * errors exit with 2.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "convert.h"

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: gpt-convert HF_DIR OUT.gguf [--type f32|f16|q8_0] "
            "[--name NAME] [--quiet] [--no-verify]\n"
            "       gpt-convert IN.gguf OUT.gguf --type q8_0|f16|f32\n"
            "\n"
            "HF_DIR is a Hugging Face GPT-2 checkpoint folder (config.json,\n"
            "model.safetensors, vocab.json, merges.txt); the GGUF written uses\n"
            "llama.cpp's gpt2 layout.  Matrices take the chosen type (default\n"
            "f16); norms, biases and position embeddings stay F32.  IN.gguf\n"
            "requantizes an existing gpt2 GGUF.\n");
}

int
main(int argc, char **argv)
{
    cv_options o = {0};
    const char *pos[2] = {NULL, NULL}, *type = NULL;
    gpt_error err = {0};
    struct stat sb;
    gpt_status st;
    int i, npos = 0, is_dir;

    o.verify = 1;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            type = argv[++i];
        } else if (strncmp(argv[i], "--type=", 7) == 0) {
            type = argv[i] + 7;
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            o.name = argv[++i];
        } else if (strcmp(argv[i], "--quiet") == 0 ||
                   strcmp(argv[i], "-q") == 0) {
            o.quiet = 1;
        } else if (strcmp(argv[i], "--no-verify") == 0) {
            o.verify = 0;
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "gpt-convert: unknown or incomplete option %s\n",
                    argv[i]);
            usage(stderr);
            return 2;
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "gpt-convert: too many arguments\n");
            usage(stderr);
            return 2;
        }
    }
    if (npos != 2) {
        usage(stderr);
        return 2;
    }
    o.in = pos[0];
    o.out = pos[1];
    if (!type || strcmp(type, "f16") == 0 || strcmp(type, "F16") == 0)
        o.type = GGML_F16;
    else if (strcmp(type, "f32") == 0 || strcmp(type, "F32") == 0)
        o.type = GGML_F32;
    else if (strcmp(type, "q8_0") == 0 || strcmp(type, "Q8_0") == 0)
        o.type = GGML_Q8_0;
    else {
        fprintf(stderr, "gpt-convert: --type %s: expected f32, f16 or q8_0\n",
                type);
        return 2;
    }
    if (stat(o.in, &sb) != 0) {
        fprintf(stderr, "gpt-convert: %s: no such file or folder\n", o.in);
        return 1;
    }
    is_dir = S_ISDIR(sb.st_mode);
    if (!is_dir && !type) {
        fprintf(stderr, "gpt-convert: requantizing %s needs --type "
                "(q8_0, f16 or f32)\n", o.in);
        return 2;
    }
    st = is_dir ? cv_convert_hf(&o, &err) : cv_requantize(&o, &err);
    if (st != GPT_OK) {
        fprintf(stderr, "gpt-convert: %s\n", err.message);
        return 1;
    }
    if (!o.quiet)
        fprintf(stderr, "gpt-convert: wrote %s\n", o.out);
    return 0;
}
