# Writes hookd.1, the man page, from the `--help` text of every command, so the two never
# disagree. Run by the build (cmake -P) after hookd is linked:
#   cmake -DHOOKD=<path to hookd> -DVERSION=<x.y.z> -DOUT=<hookd.1> -P cmake/manpage.cmake

function(hookd_help out)
  execute_process(COMMAND ${HOOKD} ${ARGN} --help OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${HOOKD} ${ARGN} --help exited ${rc}")
  endif()
  # troff: a backslash is \e; a line starting with . or ' would be a request.
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

hookd_help(main)
hookd_help(run run)
hookd_help(check check)
hookd_help(events events)
hookd_help(version version)

set(page ".TH HOOKD 1 \"\" \"hookd ${VERSION}\" \"User Commands\"
.SH NAME
hookd \\- webhook receiver daemon: verify, normalize, store durably, deliver
.SH SYNOPSIS
.B hookd run
.B \\-\\-config
.I FILE
.br
.B hookd check
.B \\-\\-config
.I FILE
.br
.B hookd events
.I ACTION
.B \\-\\-config
.I FILE
.br
.B hookd version
.SH DESCRIPTION
The text below is what
.B hookd \\-\\-help
and each command's
.B \\-\\-help
print.
.SS hookd
.nf
${main}.fi
.SS hookd run
.nf
${run}.fi
.SS hookd check
.nf
${check}.fi
.SS hookd events
.nf
${events}.fi
.SS hookd version
.nf
${version}.fi
.SH FILES
.TP
.I /etc/hookd/hookd.yaml
the configuration (a conffile of the package)
.TP
.I /var/lib/hookd/hookd.db
the spool (SQLite, WAL mode)
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1);
/usr/share/doc/hookd/operations.md and configuration.md
")
file(WRITE ${OUT} "${page}")
