package: jenv
version: "%(tag_basename)s"
tag: "v0.1.0"
requires:
  - Python-modules:(?!osx_arm64)
  - AliEn-CAs
build_requires:
  - alibuild-recipe-tools
prepend_path:
  PYTHONPATH: "$JENV_ROOT/lib/python/site-packages"
---
#!/bin/bash -e
# jenv for the ALICE software stack (aliBuild), in the way the official client (xjalienfs) is built:
# pip --target puts jenv and its dependencies under lib/python/site-packages, compiled at build time;
# a launcher that finds its own directory replaces pip's script, so the tree works wherever it is
# moved and nothing is written at run time.  See packaging/README.md.

SITE="$INSTALLROOT/lib/python/site-packages"

# Only what this build installs, with the Python of Python-modules (not a user's virtualenv).
env -u VIRTUAL_ENV python3 -m pip install --disable-pip-version-check --no-warn-script-location \
    --target "$SITE" "$SOURCEDIR"

# pip --target leaves its scripts (with this build's interpreter in their first line) and the data
# files inside the target: the scripts are replaced by the launcher, the man page goes to share/.
rm -rf "$SITE/bin" "$INSTALLROOT/bin"
if [ -d "$SITE/share" ]; then
    mkdir -p "$INSTALLROOT/share"
    cp -R "$SITE/share/." "$INSTALLROOT/share/"
    rm -rf "$SITE/share"
fi
mkdir -p "$INSTALLROOT/bin"
cat > "$INSTALLROOT/bin/jenv" <<'EoF'
#!/usr/bin/env python3
# jenv as built by aliBuild: the package lies in ../lib/python/site-packages from this file, wherever
# the installation was moved (no path of the build is written in here).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))),
                                "lib", "python", "site-packages"))
from jenv.login import run_and_exit

run_and_exit()
EoF
chmod 0755 "$INSTALLROOT/bin/jenv"

# Modulefile (the shape alibuild-generate-module gives; BASEDIR is where the tree lies at run time).
MODULEDIR="$INSTALLROOT/etc/modulefiles"
mkdir -p "$MODULEDIR"
cat > "$MODULEDIR/$PKGNAME" <<EoF
#%Module1.0
proc ModulesHelp { } {
  global version
  puts stderr "ALICE Modulefile for $PKGNAME $PKGVERSION-@@PKGREVISION@$PKGHASH@@"
}
set version $PKGVERSION-@@PKGREVISION@$PKGHASH@@
module-whatis "ALICE Modulefile for $PKGNAME $PKGVERSION-@@PKGREVISION@$PKGHASH@@"
# Dependencies
module load BASE/1.0 ${PYTHON_MODULES_REVISION:+Python-modules/$PYTHON_MODULES_VERSION-$PYTHON_MODULES_REVISION} ${ALIEN_CAS_REVISION:+AliEn-CAs/$ALIEN_CAS_VERSION-$ALIEN_CAS_REVISION}
# Our environment
set JENV_ROOT \$::env(BASEDIR)/$PKGNAME/\$version
setenv JENV_ROOT \$JENV_ROOT
prepend-path PATH \$JENV_ROOT/bin
prepend-path PYTHONPATH \$JENV_ROOT/lib/python/site-packages
prepend-path MANPATH \$JENV_ROOT/share/man
EoF
