package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Data on a dynamically provisioned block volume", Label(labels.CSI, labels.Provisioning, labels.Data), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.DataPath)
		ns = t.CreateNamespace(ctx, "csi-data").Name
	})

	DescribeTable("keeps a file written by one pod for the next pod, on a filesystem of the class's fstype",
		func(ctx SpecContext, fsType string) {
			sc := dataStorageClass(ctx, t, fsType, false)
			claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
			vol := target.DataVolume{Claim: claim.Name}
			file := vol.Path() + "/payload"
			want := target.NewPayload(ns, 16<<10)

			By("writing a file through a pod on a real node, inside a " + fsType + " filesystem")
			wrote := runData(ctx, t, ns, "writer", "", want.WriteScript(file)+mountLine(vol.Path()), vol)
			Expect(target.ChecksumIn(wrote.Output, file)).To(Equal(want.SHA256), "the writer read back other bytes: %s", wrote.Output)
			Expect(mountedFSType(wrote.Output)).To(Equal(fsType), "filesystem of %s in the pod (%s)", vol.Path(), wrote.Output)
			_, pv, volume := boundVolume(ctx, t, ns, claim.Name)
			Expect(attachedDiskIDs(ctx, t, mustVM(ctx, t, wrote.Node))).To(ContainElement(volume.VolumeId.Id),
				"VM %s has no disk of FCD %s while its pod wrote to it", wrote.Node, volume.VolumeId.Id)

			By("deleting the writer, which detaches the disk from the node's VM")
			Expect(t.DeletePod(ctx, ns, "writer")).To(Succeed())
			_, err := t.WaitForVolumeAttachment(ctx, pv.Name, wrote.Node, false)
			Expect(err).NotTo(HaveOccurred())

			By("reading the same bytes through a new pod")
			read := runData(ctx, t, ns, "reader", "", target.ReadScript(file)+mountLine(vol.Path()), vol)
			expectPayload(read, file, want, "after detach and re-attach")
			Expect(mountedFSType(read.Output)).To(Equal(fsType))
		},
		Entry("ext4", "ext4", SpecTimeout(5*time.Minute)),
		Entry("xfs", "xfs", SpecTimeout(5*time.Minute)))

	It("gives a raw block claim as a block device of the claimed size that keeps bytes written at an offset", labels.Catches("create-smaller-disk"), func(ctx SpecContext) {
		sc := dataStorageClass(ctx, t, "", false)
		pvc := target.NewPVC("raw", sc.Name, "64Mi")
		pvc.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock)
		claim := t.CreatePVC(ctx, ns, pvc)
		vol := target.DataVolume{Claim: claim.Name, Block: true}
		dev := vol.Path()
		want := target.NewPayload(ns, 16<<10) // 4 blocks of 4 KiB
		const offsetBlocks = 2048             // 8 MiB into the device
		write := fmt.Sprintf("[ -b %[1]s ] || { echo '%[1]s is not a block device'; exit 1; }\n"+
			"echo \"size: $(blockdev --getsize64 %[1]s)\"\n"+
			"cat > /tmp/payload <<'VSCONFORM_EOF'\n%[2]sVSCONFORM_EOF\n"+
			"dd if=/tmp/payload of=%[1]s bs=4096 seek=%[3]d conv=fsync 2>/dev/null\n", dev, want.Content, offsetBlocks)
		read := fmt.Sprintf("echo \"$(dd if=%[1]s bs=4096 skip=%[2]d count=4 2>/dev/null | head -c %[3]d | sha256sum | cut -d' ' -f1)  %[1]s\"\n"+
			"echo \"first line: $(dd if=%[1]s bs=4096 skip=%[2]d count=1 2>/dev/null | head -n 1)\"\n", dev, offsetBlocks, len(want.Content))

		By("writing at an offset of the raw device in a pod on a real node")
		wrote := runData(ctx, t, ns, "writer", "", write+read, vol)
		Expect(wrote.Output).To(ContainSubstring(fmt.Sprintf("size: %d\n", 64<<20)), "device size in the pod")
		expectPayload(wrote, dev, want, "read back by the writer")
		_, pv, _ := boundVolume(ctx, t, ns, claim.Name)
		Expect(pv.Spec.VolumeMode).To(HaveValue(Equal(corev1.PersistentVolumeBlock)))

		By("reading the same bytes at that offset in a new pod after the disk was detached")
		Expect(t.DeletePod(ctx, ns, "writer")).To(Succeed())
		_, err := t.WaitForVolumeAttachment(ctx, pv.Name, wrote.Node, false)
		Expect(err).NotTo(HaveOccurred())
		again := runData(ctx, t, ns, "reader", "", read, vol)
		expectPayload(again, dev, want, "after detach and re-attach")
	}, SpecTimeout(5*time.Minute))
})
