#!/bin/sh
# Builds the training corpus of the bundled default model (models/default.gguf):
# ~9 MB of English text from pinned Debian 12 (bookworm) packages, byte-for-byte
# identical on every run.
#
#   sh models/make_corpus.sh [OUT_FILE]             (default: ./corpus.txt)
#   WRAPPED=1 sh models/make_corpus.sh [OUT_FILE]   the phase-1 corpus (see below)
#
# Prints the corpus sha256 and size; exits non-zero if they differ from the expected ones.
#
# Most sources after the Bible are hard-wrapped at ~70 columns, so a model trained on them
# learns that " the" is often followed by a newline. By default every paragraph of
# sections 2-6 (a run of non-empty lines) is joined into one line: each line's leading
# and trailing blanks are removed and the lines are joined with one space; empty lines
# (paragraph and document breaks) stay. The Bible stays one verse per line (verses are
# not wrapped). WRAPPED=1 keeps the original line breaks: that is the corpus of
# training phase 1 of models/default.gguf (models/README.md).
# Needs: apt-get (lists updated; the script runs `apt-get update` itself when a download
# fails and it is root), dpkg-deb, gzip, sha256sum, libreadline8 (for the `bible` binary).
# Installs nothing: the .deb files are downloaded into a temporary folder and unpacked there.
# To work offline, put the seven .deb files in a folder and set DEB_DIR=that/folder.
#
# Contents, in this order; documents are separated by one empty line:
#   1. King James Bible (public domain), one verse per line, verse references removed
#        bible-kjv 4.38 + bible-kjv-text 4.38: `bible -f gen1:1-rev22:21`
#   2. US Constitution and 3. Declaration of Independence (public domain;
#        miscfiles 1.5+dfsg-4, /usr/share/state)
#   4. The Devil's Dictionary, Ambrose Bierce 1911 (public domain; dict-devil 1.0-13.1)
#   5. The Jargon File 4.4.7 (public domain; dict-jargon 4.4.7-3.1)
#   6. The fortune cookie files of fortune-mod (fortunes + fortunes-min 1:1.99.1-7.3,
#        BSD-licensed collection of quotations), every file but ascii-art and
#        translate-me, in C sort order; the "%" separators become empty lines.
set -eu

if [ "${WRAPPED:-0}" = 1 ]; then
  EXPECTED_SHA256=588ae349b7af27a86339036ebcb1daadfbd48ccc4fddb0d4ee8d1f784b3dc26e
  EXPECTED_BYTES=8547887
  JOIN=cat
else
  EXPECTED_SHA256=20985a3835a47347ba1bf650f04f8df597026c1918fa31682779c366a05a1273
  EXPECTED_BYTES=8410503
  JOIN=join_paragraphs
fi

# Joins each run of non-empty lines into one line (lines trimmed, joined with one space);
# empty lines stay.
join_paragraphs() {
  awk '{ sub(/^[ \t]+/, ""); sub(/[ \t]+$/, "") }
       $0 == "" { if (p != "") print p; p = ""; print; next }
       { p = (p == "") ? $0 : p " " $0 }
       END { if (p != "") print p }'
}

OUT=${1:-corpus.txt}
case "$OUT" in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac

PKGS="bible-kjv=4.38 bible-kjv-text=4.38 dict-devil=1.0-13.1 dict-jargon=4.4.7-3.1 miscfiles=1.5+dfsg-4 fortunes=1:1.99.1-7.3 fortunes-min=1:1.99.1-7.3"
DEBS_SHA256="
75a49c032a6efa9faa2beb4a9acb70974380122906329d0e100de36cc88ff02d  bible-kjv_4.38_amd64.deb
d61b6aad4c51ba9e2800b825325fa6a09e99a0d02a9bb6dc4724fcc4995a1b7a  bible-kjv-text_4.38_all.deb
6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154  dict-devil_1.0-13.1_all.deb
405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1  dict-jargon_4.4.7-3.1_all.deb
b29fdc907760ded52adbc1b4322da22b94108cd124caf0b23da8c23cc3578a28  miscfiles_1.5+dfsg-4_all.deb
41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5  fortunes_1%3a1.99.1-7.3_all.deb
9eed5b45064e41133dae0967cf3a17588ad77c014fcc7bf1527fa3ea48e44d07  fortunes-min_1%3a1.99.1-7.3_all.deb
"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM
cd "$WORK"

if [ -n "${DEB_DIR:-}" ]; then
  for f in bible-kjv_4.38_amd64.deb bible-kjv-text_4.38_all.deb dict-devil_1.0-13.1_all.deb \
           dict-jargon_4.4.7-3.1_all.deb miscfiles_1.5+dfsg-4_all.deb \
           'fortunes_1%3a1.99.1-7.3_all.deb' 'fortunes-min_1%3a1.99.1-7.3_all.deb'; do
    cp "$DEB_DIR/$f" .
  done
else
  # shellcheck disable=SC2086
  if ! apt-get download $PKGS >download.log 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update >/dev/null
      # shellcheck disable=SC2086
      apt-get download $PKGS >download.log 2>&1 || { cat download.log >&2; exit 1; }
    else
      cat download.log >&2
      echo "apt-get download failed; run 'apt-get update' as root first" >&2
      exit 1
    fi
  fi
fi
printf '%s' "$DEBS_SHA256" | sed '/^$/d' > debs.sha256
sha256sum -c --quiet debs.sha256

for d in *.deb; do dpkg-deb -x "$d" x; done

export LC_ALL=C
unset COLUMNS
F=x/usr/share/games/fortunes
{
  # "Ge1:1 In the beginning ..." -> "In the beginning ..."
  x/usr/bin/bible -p "$WORK/x/usr/lib" -f gen1:1-rev22:21 </dev/null | sed 's/^[^ ]* //'
  echo
  {
  zcat x/usr/share/state/us-constitution.gz
  echo
  zcat x/usr/share/state/us-declaration.gz
  echo
  zcat x/usr/share/dictd/devil.dict.dz
  echo
  zcat x/usr/share/dictd/jargon.dict.dz
  echo
  for f in $(ls "$F" | grep -v '\.' | grep -v -x -e ascii-art -e translate-me | sort); do
    sed 's/^%$//' "$F/$f"
    echo
  done
  } | $JOIN
} | sed 's/[ \t]*$//' | cat -s > corpus.txt   # no trailing blanks, at most one empty line in a row

mv corpus.txt "$OUT"
SUM=$(sha256sum "$OUT" | cut -d' ' -f1)
BYTES=$(wc -c < "$OUT")
echo "$SUM  $OUT"
echo "bytes: $BYTES"
if [ "$SUM" != "$EXPECTED_SHA256" ] || [ "$BYTES" != "$EXPECTED_BYTES" ]; then
  echo "MISMATCH: expected sha256 $EXPECTED_SHA256 and $EXPECTED_BYTES bytes" >&2
  exit 1
fi
echo "OK: matches the expected corpus"
