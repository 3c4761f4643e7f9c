/** Where the agent looks for the host's tools (unshare, nsenter, ip, nft...), whatever its own PATH lacks. */
export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
