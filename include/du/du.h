/* du.h: everything a tool needs. */
#ifndef DU_DU_H
#define DU_DU_H
#include "du/err.h"
#include "du/log.h"
#include "du/config.h"
#endif
