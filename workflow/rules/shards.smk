# One rule per shard job planned by amodal.plan.jobs: synthetic scenes, every stage (one rule
# per stage folder key), and collect (one per experiment). A rule's outputs are the
# per-instance folders it fills (so a missing one reruns the job) and the shard's manifest;
# its inputs are the manifests of the upstream shards holding its instances (or, for the
# first stages, the instances' source files). With config `fuse`, one rule runs several stage
# jobs of a shard in one process (amodal.plan.fusing.fuse): it has every member's outputs.
for job in WORK.rules:
    job_threads, job_resources_ = resources_of(job)

    rule:
        name:
            job.rule
        input:
            *job.inputs,
            **job.shared,
        output:
            # The manifests first (a stage job's script finds its own as output[0]): Snakemake matches
            # a requested file against a rule's outputs in order, and downstream jobs ask for manifests.
            *job.manifests,
            *[directory(folder) for folder in job.outputs],
        log:
            job.log,
        benchmark:
            job.benchmark
        conda:
            "../../envs/amodal.yaml"
        threads: job_threads
        resources:
            **job_resources_,
        params:
            kind=job.kind,
            key=job.key,
            spec=job.spec,
            instances=job.items,
            context=job.context,
            members=[
                {
                    "kind": m.kind,
                    "key": m.key,
                    "spec": m.spec,
                    "instances": m.items,
                    "manifest": m.manifest,
                    "context": m.context,
                }
                for m in job.members
            ],
        script:
            "../scripts/run_shard.py"
