/**
 * The devices ("major:minor", as st_dev) of the [proc] views in a
 * /proc/PID/mountinfo text: the mounts of file system type "fuse.sysvisor"
 * (proc(5): field 3 is major:minor; the type follows the " - " separator).
 */
export function viewDevices(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0 || line.slice(sep + 3).split(' ')[0] !== 'fuse.sysvisor') continue;
    const dev = line.split(' ').at(2);
    if (dev !== undefined && /^\d+:\d+$/.test(dev)) out.push(dev);
  }
  return out;
}
