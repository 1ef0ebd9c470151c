/**
 * The daemons' one entry as the bytecode cache (lib/startup/bytecode-cache.ts) compiles it: a
 * standalone executable holding both, told which to run by its first argument.
 *
 *   cluster-daemon sc  [the options of sc.ts]
 *   cluster-daemon spu [the options of spu.ts]
 *
 * NOTE: one executable, not one per daemon: each holds a copy of the Bun runtime (about
 * 110 MB). The role's module is imported only once it is chosen, and the build puts each role
 * in its own chunk, so an SPU neither loads nor compiles SC code.
 */
const ROLES = {
  sc: () => import("./sc.ts"),
  spu: () => import("./spu.ts"),
};

const [role, ...argv] = process.argv.slice(2);
if (role !== "sc" && role !== "spu") {
  console.error(`unexpected role '${role ?? ""}'; usage: cluster-daemon sc|spu [options]`);
  process.exit(2);
}
void ROLES[role]().then((entry) => entry.main(argv));
