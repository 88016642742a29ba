#pragma once
/// \file fastjson.h
/// The umbrella header: everything a user of fastjson-api needs.

#include "fastjson/app.h"
#include "fastjson/buffer.h"
#include "fastjson/cache.h"
#include "fastjson/config.h"
#include "fastjson/db/sqlite.h"
#include "fastjson/http_error.h"
#include "fastjson/json/reader.h"
#include "fastjson/json/reflect.h"
#include "fastjson/json/writer.h"
#include "fastjson/loop.h"
#include "fastjson/middleware.h"
#include "fastjson/mw/builtin.h"
#include "fastjson/request.h"
#include "fastjson/response.h"
#include "fastjson/router.h"
#include "fastjson/task.h"
#include "fastjson/version.h"
