#!/usr/bin/env bash
# The system packages `make test` needs besides the virtual environments, installed when they
# are missing and this runs as root with apt-get; otherwise one line naming what is missing and
# the command that installs it, and exit status 1, before any test runs.
#   chromium:         tests/test_report_in_browser.py opens the visual report in headless Chromium
#   slurm-wlm, munge: tests/test_slurm.py starts a one-node SLURM cluster (tools/slurm_local.sh),
#                     whose daemons run as root
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin # slurmd and munged live there

packages=()
command -v chromium >/dev/null || packages+=(chromium)
for tool in sinfo squeue scontrol slurmctld slurmd; do
    command -v "$tool" >/dev/null || { packages+=(slurm-wlm); break; }
done
command -v munged >/dev/null || packages+=(munge)

if [ "$(id -u)" -ne 0 ]; then
    if [ ${#packages[@]} -gt 0 ]; then
        echo "make test: missing ${packages[*]} (and not root: tests/test_slurm.py starts SLURM's daemons as root);" \
            "as root: apt-get install ${packages[*]} && make test" >&2
    else
        echo "make test: not root: tests/test_slurm.py starts SLURM's daemons (slurmd, munged) as root; run make test as root" >&2
    fi
    exit 1
fi
[ ${#packages[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "make test: missing ${packages[*]} and no apt-get here: install the Debian packages ${packages[*]} (or their equivalents)" >&2
    exit 1
fi
echo "make test: installing ${packages[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
apt-get clean # the downloaded .deb files are not needed once installed
