#include "pdm.hpp"
