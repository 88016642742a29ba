#pragma once
/// \file fastjson.h
/// The umbrella header: everything a user of fastjson-api needs.

#include "fastjson/buffer.h"
#include "fastjson/version.h"
