# Java SDK: the JUnit 5 suite of sdk-java through Maven (Surefire prints "Tests run: ...").
# Needs scripts/build.sh first: the JNI library in build/bindings/java (the pom picks it up).
stage_java() {
  cd "$ROOT/sdk-java"
  mvn -B -ntp -Dstyle.color=never test
}

run_stage java stage_java
