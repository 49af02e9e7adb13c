# The README's main job: the local stack and the demo, end to end (scripts/run.sh).
stage_demo() { bash scripts/run.sh; }
run_stage demo stage_demo
