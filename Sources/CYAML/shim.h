// The system libyaml (Debian: libyaml-dev), found through pkg-config `yaml-0.1`.
#ifndef PURSER_CYAML_SHIM_H
#define PURSER_CYAML_SHIM_H
#include <yaml.h>
#endif
