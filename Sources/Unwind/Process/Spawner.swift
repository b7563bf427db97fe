// Spawner: starts a helper program with posix_spawn. Tests and the walk tester use it
// instead of fork(): forking a multi-threaded test process copies one thread and whatever
// locks the others held.

import CVunwind
#if canImport(Glibc)
import Glibc
#endif

public enum Spawner {
    /// Spawns `path` with `arguments` (argv[0] is `path`), inheriting the environment plus
    /// `environment`, and stdin/stdout/stderr unless `quiet` sends the output to /dev/null.
    /// `directory`: the child's working directory. `standardInput`, `standardOutput`,
    /// `standardError`: descriptors (a pipe's ends) that become the child's fd 0, 1 and 2.
    public static func spawn(_ path: String, _ arguments: [String], environment: [String: String] = [:],
                             quiet: Bool = false, directory: String? = nil,
                             standardInput: Int32? = nil, standardOutput: Int32? = nil,
                             standardError: Int32? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let directory { vu_spawn_file_actions_addchdir(&actions, directory) }
        if quiet {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        if let standardInput { posix_spawn_file_actions_adddup2(&actions, standardInput, 0) }
        if let standardOutput { posix_spawn_file_actions_adddup2(&actions, standardOutput, 1) }
        if let standardError { posix_spawn_file_actions_adddup2(&actions, standardError, 2) }
        var env: [String] = []
        var i = 0
        while let p = environ[i] {
            let entry = String(cString: p)
            let key = String(entry.prefix { $0 != "=" })
            if environment[key] == nil { env.append(entry) }
            i += 1
        }
        for (k, v) in environment { env.append("\(k)=\(v)") }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw SystemError(call: "posix_spawn \(path)", errno: rc) }
        return pid
    }
}
