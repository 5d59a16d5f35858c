# Make fragment for the bundled default model (models/default.gguf).
#
#   make -f models/models.mk train-default   # corpora + phases 1 and 2 (~80 min on one core) + export
#   make -f models/models.mk export-default  # re-export the GGUF from build/models/default.pt
#
# Training has two phases (models/README.md):
#   1. from scratch, 1200 steps on the corpus as packaged (hard-wrapped lines,
#      WRAPPED=1 make_corpus.sh) -> build/models/default-phase1.pt
#   2. warm start from phase 1, 950 steps on the corpus with paragraphs joined into lines
#      (make_corpus.sh) -> build/models/default.pt
#
# Needs Debian's python3-torch, python3-numpy, python3-regex (Debian's /usr/bin/python3).
# The checkpoints and corpora stay in build/models/ (not committed); the GGUF and the
# training log are written into models/ and committed.

MODELS_PY    ?= /usr/bin/python3
MODELS_BUILD ?= build/models

# glibc would otherwise mmap and unmap the ~400 MB logits buffers every step and pay
# the page faults again each time; keeping them in the heap makes steps ~2x faster.
MODELS_MALLOC = MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 MALLOC_TOP_PAD_=1000000000

.PHONY: train-default export-default corpus-default

corpus-default:
	mkdir -p $(MODELS_BUILD)
	WRAPPED=1 sh models/make_corpus.sh $(MODELS_BUILD)/corpus-wrapped.txt
	sh models/make_corpus.sh $(MODELS_BUILD)/corpus.txt

train-default: corpus-default
	rm -f models/train_log.txt $(MODELS_BUILD)/corpus-wrapped.tokens.npy $(MODELS_BUILD)/corpus.tokens.npy
	echo "# phase 1: from scratch on the hard-wrapped corpus" > models/train_log.txt
	$(MODELS_MALLOC) $(MODELS_PY) models/train.py --corpus $(MODELS_BUILD)/corpus-wrapped.txt \
	    --out $(MODELS_BUILD)/default-phase1.pt --log models/train_log.txt
	echo "# phase 2: warm start from phase 1 on the corpus with joined paragraphs" >> models/train_log.txt
	$(MODELS_MALLOC) $(MODELS_PY) models/train.py --corpus $(MODELS_BUILD)/corpus.txt \
	    --init $(MODELS_BUILD)/default-phase1.pt --out $(MODELS_BUILD)/default.pt \
	    --log models/train_log.txt --steps 950 --lr 1e-3 --warmup 50 \
	    --full-every 4 --full-last 150 --eval-every 250 --threads 1
	$(MAKE) -f models/models.mk export-default

# written to a temporary file and renamed, so a failed export leaves the old model in place
export-default:
	$(MODELS_PY) models/export_gguf.py $(MODELS_BUILD)/default.pt models/default.gguf.tmp
	mv models/default.gguf.tmp models/default.gguf
