#!/usr/bin/env bash
# Copies the CRD manifests of the pinned upstream modules (snapshot CRDs, the
# vSphere driver's CSINodeTopology) from the module cache into the ignored
# build folder, where `vsconform sim up` applies them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${CRDS:-$PWD/_build/crds}
mkdir -p "$OUT"
export GOFLAGS=-mod=mod GONOSUMDB=k8s.io/cloud-provider-vsphere
moddir() { (cd "sim/tools/$1" && go list -m -f '{{.Dir}}' "$2"); }
snap=$(moddir snapshotter github.com/kubernetes-csi/external-snapshotter/client/v8)
csi=$(moddir csi sigs.k8s.io/vsphere-csi-driver/v3)
install -m 0644 "$snap"/config/crd/snapshot.storage.k8s.io_*.yaml "$OUT"/
install -m 0644 "$csi"/pkg/internalapis/csinodetopology/config/cns.vmware.com_csinodetopologies.yaml "$OUT"/
metallb=$(moddir metallb go.universe.tf/metallb)
install -m 0644 "$metallb"/config/crd/bases/metallb.io_*.yaml "$OUT"/
