# The lean image: Lean 4 (via elan) + Mathlib with prebuilt oleans, for Lean jobs.
#
#   docker build -f containers/Dockerfile.lean -t ghcr.io/your-org/misalign-fv/lean:latest containers
#   (or: containers/build_and_push.sh --build-only --only lean)
#   containers/verify-lean.sh ghcr.io/your-org/misalign-fv/lean:latest
#
# Needs the internet at build time (elan, GitHub, Mathlib's olean cache). At run time the
# SDK starts it with no network, a read-only root and a tmpfs /tmp (docs/lean-jobs.md).
#
# LEAN_TOOLCHAIN and MATHLIB_REV must agree: Mathlib's own `lean-toolchain` file names the
# Lean it was built with, and the build stops with an error when it differs. Mathlib tags
# releases after Lean's (v4.16.0 and so on), so the default MATHLIB_REV is the toolchain's
# version. MATHLIB_REV may be a tag, a branch or a commit.
#
# LEAN_PATH is fixed here (Mathlib's and each dependency's .lake/build/lib, then the
# toolchain's lib), so `import Mathlib` works from any directory without Lake. The list of
# dependencies is MATHLIB_PACKAGES; the build fails when Mathlib's checkout has a package
# that list lacks (or the reverse), so a new MATHLIB_REV cannot silently miss one.

FROM ubuntu:24.04

ARG LEAN_TOOLCHAIN=leanprover/lean4:v4.16.0
# Empty: the tag of the toolchain's version (v4.16.0 for the default).
ARG MATHLIB_REV=
ARG MATHLIB_REPO=https://github.com/leanprover-community/mathlib4
ARG MATHLIB_PACKAGES="batteries Qq aesop proofwidgets importGraph LeanSearchClient plausible"
ARG ELAN_INIT=https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    ELAN_HOME=/opt/elan

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl git coreutils tar \
 && rm -rf /var/lib/apt/lists/*

# elan, then the pinned toolchain; /opt/lean points at it so nothing at run time goes
# through elan's proxies (which read lean-toolchain files and may try the network).
RUN curl -sSfL "$ELAN_INIT" -o /tmp/elan-init.sh \
 && sh /tmp/elan-init.sh -y --no-modify-path --default-toolchain none \
 && rm /tmp/elan-init.sh \
 && /opt/elan/bin/elan toolchain install "$LEAN_TOOLCHAIN" \
 && prefix="$(/opt/elan/bin/elan run "$LEAN_TOOLCHAIN" lean --print-prefix)" \
 && test -x "$prefix/bin/lean" \
 && ln -s "$prefix" /opt/lean \
 && /opt/lean/bin/lean --version

# Mathlib at MATHLIB_REV, checked against the toolchain before anything is downloaded.
RUN rev="${MATHLIB_REV:-${LEAN_TOOLCHAIN##*:}}" \
 && git init -q /opt/mathlib \
 && cd /opt/mathlib \
 && git remote add origin "$MATHLIB_REPO" \
 && git fetch -q --depth 1 origin "$rev" \
 && git checkout -q FETCH_HEAD \
 && want="$LEAN_TOOLCHAIN" \
 && have="$(tr -d '[:space:]' < lean-toolchain)" \
 && if [ "$have" != "$want" ]; then \
      echo "ERROR: Mathlib $rev wants toolchain '$have' but LEAN_TOOLCHAIN is '$want'." >&2; \
      echo "ERROR: set MATHLIB_REV to the Mathlib tag matching the toolchain (e.g. ${want##*:})." >&2; \
      exit 1; \
    fi \
 && echo "Mathlib $rev ($(git rev-parse HEAD)) matches $want"

# Prebuilt oleans (without them Mathlib compiles for hours). Lake runs through the pinned
# toolchain directly.
RUN cd /opt/mathlib \
 && export PATH="/opt/lean/bin:$PATH" \
 && lake exe cache get \
 && test -f .lake/build/lib/Mathlib.olean \
 && found="$(ls .lake/packages | sort | tr '\n' ' ')" \
 && listed="$(printf '%s\n' $MATHLIB_PACKAGES | sort | tr '\n' ' ')" \
 && if [ "$found" != "$listed" ]; then \
      echo "ERROR: Mathlib's packages are [$found] but MATHLIB_PACKAGES lists [$listed];" >&2; \
      echo "ERROR: update MATHLIB_PACKAGES (it sets LEAN_PATH)." >&2; \
      exit 1; \
    fi \
 && for p in $MATHLIB_PACKAGES; do test -d ".lake/packages/$p/.lake/build/lib" \
      || { echo "ERROR: no oleans for package $p" >&2; exit 1; }; done

ENV PATH=/opt/lean/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LEAN_PATH=/opt/mathlib/.lake/build/lib:/opt/mathlib/.lake/packages/batteries/.lake/build/lib:/opt/mathlib/.lake/packages/Qq/.lake/build/lib:/opt/mathlib/.lake/packages/aesop/.lake/build/lib:/opt/mathlib/.lake/packages/proofwidgets/.lake/build/lib:/opt/mathlib/.lake/packages/importGraph/.lake/build/lib:/opt/mathlib/.lake/packages/LeanSearchClient/.lake/build/lib:/opt/mathlib/.lake/packages/plausible/.lake/build/lib:/opt/lean/lib/lean \
    HOME=/tmp

# LEAN_PATH above must name every package the checkout has (the ENV line cannot loop).
RUN for p in $MATHLIB_PACKAGES; do \
      case ":$LEAN_PATH:" in *":/opt/mathlib/.lake/packages/$p/.lake/build/lib:"*) ;; \
        *) echo "ERROR: LEAN_PATH lacks package $p; add it to the ENV line" >&2; exit 1 ;; esac; \
    done

# Toolchain and Mathlib belong to root and are read-only for everyone else. The SDK runs
# untrusted compiles as a uid of each container's own, with no passwd entry (`lean`, 10001,
# is for humans and the smoke test); the trusted reference and check steps as `judge`
# (10002). Smoke test as `lean` from an unrelated directory.
RUN chown -R root:root /opt/elan /opt/mathlib \
 && chmod -R a-w,a+rX /opt/elan /opt/mathlib \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /tmp --shell /usr/sbin/nologin lean \
 && useradd --uid 10002 --user-group --no-create-home --home-dir /tmp --shell /usr/sbin/nologin judge

USER lean
WORKDIR /tmp
RUN printf 'theorem smoke_core : 1 + 1 = 2 := rfl\n' > /tmp/core.lean && lean /tmp/core.lean \
 && printf 'import Mathlib\ntheorem smoke_mathlib (n : ℕ) : n + 0 = n := by simp\n' > /tmp/ml.lean \
 && lean /tmp/ml.lean \
 && rm -f /tmp/core.lean /tmp/ml.lean \
 && if touch /opt/mathlib/.write-test 2>/dev/null; then echo "ERROR: Mathlib is writable" >&2; exit 1; fi

LABEL org.opencontainers.image.title="lean" \
      org.opencontainers.image.description="Lean 4 + Mathlib (prebuilt oleans) for misalign-rewards Lean jobs"

ENTRYPOINT ["lean"]
