#!/usr/bin/env bash
# The migration gate, as the example GitHub Actions workflow
# (docs/ci/github-actions.yml) runs it: seed the base schema into an empty
# database, apply the migration, time the reads with and without its
# indexes paired in one run under the gate, and rehearse the deploy under
# traffic in a scratch copy. Both states are timed in the same run on the
# same runner, never against a baseline run made earlier: on a shared
# runner the machine itself drifts between runs (docs/ci.md). tests/ci_gate.rs runs this same script against
# the embedded cluster, so the example cannot rot.
#
# Needs DATABASE_URL (an empty database the job owns). Optional:
#   MIGRATION        the pull request's migration (default: the built-in 012)
#   FAIL_ON          the bench's policies (default: regression,plan)
#   DEPLOY_LIMIT     the longest a deploy may block writes (default: 5s)
#   HELPDESK_BENCH   the helpdesk-bench binary (default: on PATH)
#   CARGO_BENCH      how to run the bench (default: cargo bench)
#   CRITERION_ARGS   extra criterion arguments (e.g. shorter timings)
#   HELPDESK_BENCH_REPORTS  where run folders go (default: ./reports)
# Exits 1 when the gate fails, 2 when a step could not run.
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to an empty database this job owns}"
hb=${HELPDESK_BENCH:-helpdesk-bench}
read -r -a bench <<<"${CARGO_BENCH:-cargo bench}"
read -r -a crit <<<"${CRITERION_ARGS:-}"
export HELPDESK_BENCH_REPORTS=${HELPDESK_BENCH_REPORTS:-$PWD/reports}
reports=$HELPDESK_BENCH_REPORTS
migration=()
[ -n "${MIGRATION:-}" ] && migration=(--migration "$MIGRATION")

# 1. The database before the pull request: the lab's base schema, seeded.
"$hb" seed --url "$DATABASE_URL" --scale "${SCALE:-small}" --schema base --quiet

# 2. The pull request's migration.
"$hb" migrate up --url "$DATABASE_URL" "${migration[@]}"

# 3. The reads with and without its indexes, paired in one run, under the
#    gate (the job owns the database, so the bench may switch its indexes;
#    they are put back as found).
status=0
HELPDESK_BENCH_ALLOW_INDEX_CHANGES=1 HELPDESK_BENCH_FAIL_ON=${FAIL_ON:-regression,plan} \
  "${bench[@]}" --bench queries -- "${crit[@]}" || status=$?

# 4. The deploy rehearsed under traffic, in a scratch copy, added to the
#    bench's report ($reports/latest) beside its deploy advice.
"$hb" rehearse --url "$DATABASE_URL" --allow-scratch --scale "${SCALE:-small}" \
  "${migration[@]}" --quiet --reports "$reports/rehearsal" --into "$reports/latest" \
  --fail-on "blocking-deploy=${DEPLOY_LIMIT:-5s}" || {
  s=$?
  [ "$s" -gt "$status" ] && status=$s
}

exit "$status"
