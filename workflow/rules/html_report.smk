rule html_report:
    """The visual report: the tables, then one strip per instance (results/report/index.html)."""
    input:
        unpack(report_tables),
    output:
        report(
            directory(f"{RESULTS}/report"),
            htmlindex="index.html",
            caption="../report/html_report.rst",
            category="Visual report",
        ),
    log:
        f"{LOGS}/html_report.log",
    benchmark:
        f"{RESULTS}/benchmarks/html_report.tsv"
    localrule: True
    conda:
        "../../envs/amodal.yaml"
    params:
        cache=f"{RESULTS}/.cache/report",
        experiments=config["experiments"],
        pairs=report_pairs(),
        paper_tables=paper_table_keys(),
        instances=report_instances,
    script:
        "../scripts/html_report.py"
