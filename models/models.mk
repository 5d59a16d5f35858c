# Make fragment for the bundled default model (models/default.gguf).
#
#   make -f models/models.mk train-default   # corpus + training (~1 h on one core) + export
#   make -f models/models.mk export-default  # re-export the GGUF from build/models/default.pt
#
# Needs Debian's python3-torch, python3-numpy, python3-regex (Debian's /usr/bin/python3).
# The checkpoint and corpus stay in build/models/ (not committed); the GGUF and the
# training log are written into models/ and committed.

MODELS_PY    ?= /usr/bin/python3
MODELS_BUILD ?= build/models

# glibc would otherwise mmap and unmap the ~400 MB logits buffers every step and pay
# the page faults again each time; keeping them in the heap makes steps ~2x faster.
MODELS_MALLOC = MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 MALLOC_TOP_PAD_=1000000000

.PHONY: train-default export-default corpus-default

corpus-default:
	mkdir -p $(MODELS_BUILD)
	sh models/make_corpus.sh $(MODELS_BUILD)/corpus.txt

train-default: corpus-default
	rm -f models/train_log.txt $(MODELS_BUILD)/default.tokens.npy
	$(MODELS_MALLOC) $(MODELS_PY) models/train.py --corpus $(MODELS_BUILD)/corpus.txt \
	    --out $(MODELS_BUILD)/default.pt --log models/train_log.txt
	$(MAKE) -f models/models.mk export-default

export-default:
	$(MODELS_PY) models/export_gguf.py $(MODELS_BUILD)/default.pt models/default.gguf
