// The CDK app entry (`npx cdk synth`, `npx cdk deploy`): the vocagno stack
// with its settings from context, for example `-c vocagno:spot=false`.
import { createVocagnoApp } from "../infra/vocagno-app.ts";

const { app } = createVocagnoApp();
app.synth();
