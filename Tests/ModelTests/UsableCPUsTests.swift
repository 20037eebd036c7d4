import Testing
@testable import Model

/// The CPUs a process may use, from hand-written /proc and cgroup contents.
struct UsableCPUsTests {
    @Test func cpuListsCount() {
        #expect(UsableCPUs.cpuCount(list: "0-1") == 2)
        #expect(UsableCPUs.cpuCount(list: " 0-3,8,10-11\n") == 7)
        #expect(UsableCPUs.cpuCount(list: "5") == 1)
        #expect(UsableCPUs.cpuCount(list: "3-1") == nil && UsableCPUs.cpuCount(list: "x") == nil && UsableCPUs.cpuCount(list: "") == nil)
    }

    @Test func cgroupV2QuotaIsTheTightestUpTheTree() {
        let files = ["/sys/fs/cgroup/kubepods/pod1/cpu.max": "150000 100000\n",
                     "/sys/fs/cgroup/kubepods/cpu.max": "400000 100000\n",
                     "/sys/fs/cgroup/cpu.max": "max 100000\n"]
        let quota = UsableCPUs.quota(cgroups: "0::/kubepods/pod1\n", read: { files[$0] })
        #expect(quota == 1.5)
        #expect(UsableCPUs(allowed: 8, quota: quota).count == 2)  // 1.5 CPUs: two threads, never eight
        #expect(UsableCPUs.quota(cgroups: "0::/\n", read: { files[$0] }) == nil)  // "max": no quota
    }

    @Test func cgroupV1QuotaAndNoQuota() {
        let files = ["/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "50000\n",
                     "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
                     "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"]
        #expect(UsableCPUs.quota(cgroups: "4:memory:/x\n2:cpu,cpuacct:/docker/abc\n", read: { files[$0] }) == 0.5)
        #expect(UsableCPUs.quota(cgroups: "1:cpu:/\n0::/\n", read: { files[$0] }) == nil)
        #expect(UsableCPUs(allowed: 2, quota: 0.5).count == 1)
        #expect(UsableCPUs(allowed: 2, quota: nil).count == 2)
    }
}
