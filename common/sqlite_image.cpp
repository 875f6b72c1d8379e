#include "common/sqlite_image.h"

#include <cstring>

namespace orch::sqlite {

Result<std::string> SerializeImage(sqlite3* db, const std::string& what) {
  sqlite3_int64 size = 0;
  unsigned char* bytes = sqlite3_serialize(db, "main", &size, 0);
  if (bytes == nullptr) return Status::Internal("cannot serialize " + what);
  std::string image(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
  sqlite3_free(bytes);
  return image;
}

Result<MemoryDb> OpenImage(const std::string& image) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return Status::Internal("cannot open an in-memory database for an image");
  }
  MemoryDb db(raw, sqlite3_close);
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(image.size()));
  if (buf == nullptr) {
    return Status::ResourceExhausted("an image of " + std::to_string(image.size()) + " bytes");
  }
  std::memcpy(buf, image.data(), image.size());
  // An image of a WAL database says so in its header (bytes 18-19 = 2).
  if (image.size() >= 100) buf[18] = buf[19] = 1;
  if (sqlite3_deserialize(raw, "main", buf, static_cast<sqlite3_int64>(image.size()),
                          static_cast<sqlite3_int64>(image.size()),
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
      SQLITE_OK) {
    return Status::InvalidArgument("the image is not an SQLite database");
  }
  return db;
}

Status RestoreImage(sqlite3* db, const std::string& image, const std::string& what) {
  ORCH_ASSIGN_OR_RETURN(MemoryDb mem, OpenImage(image));
  sqlite3_backup* b = sqlite3_backup_init(db, "main", mem.get(), "main");
  if (b == nullptr) {
    return Status::Internal("cannot restore an image into " + what + ": " + sqlite3_errmsg(db));
  }
  const int rc = sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    return Status::Internal("cannot restore an image into " + what + ": " + sqlite3_errstr(rc));
  }
  return Status::Ok();
}

}  // namespace orch::sqlite
