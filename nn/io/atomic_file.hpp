#pragma once
// Crash-safe replacement of a whole file (checkpoints, exported models).
//
// write_file_atomically writes the data to a new temporary file in the same directory as the
// target, flushes it to disk (fsync), renames it over the target and flushes the directory.
// Since rename within one file system is atomic, a crash or kill at any moment leaves at
// `path` either the complete old file (or no file, if there was none) or the complete new
// one, never a mix. An interrupted write may leave a hidden temporary file named
// ".<name>.tmp-<random>" beside the target; it never affects the target and may be deleted.
//
// The new file gets the permissions of the file it replaces, or 0666 minus the umask for a
// new file. If `path` is a symbolic link, the link itself is replaced by a regular file.
#include <cstddef>
#include <span>
#include <string>

namespace ad::nn {

// Atomically replaces (or creates) the file at `path` with `data`.
// Throws ad::IOError naming the path, the step that failed and strerror; the target is then
// unchanged and the temporary file removed.
void write_file_atomically(const std::string& path, std::span<const std::byte> data);

}  // namespace ad::nn
