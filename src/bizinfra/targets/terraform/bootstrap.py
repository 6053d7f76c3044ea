"""The bootstrap stack, `terraform/bootstrap/`: what every environment's stack needs before its first `terraform init`,
made once per platform by a person with administrator rights, whichever environment comes first.

- The state bucket: versioned, public access blocked, TLS only, SSE-S3. Not SSE-KMS: a customer key would add a
  key policy every role must be in and a way to lose every state at once (a key scheduled for deletion), and it
  would separate nothing, since the roles that read the state may use the account's keys anyway. Locking is a lock
  object beside each state (`use_lockfile`), so no DynamoDB table. It is never emptied by a destroy: it holds this
  stack's own state too.
- The account's GitHub Actions OIDC provider, which the deploy and infrastructure roles trust.
- Per Kubernetes environment, up to three roles for the infrastructure workflow, when the spec names the repository,
  each trusted by exactly the jobs that assume it:
  `infra_role`, trusted only by jobs of the repository's GitHub environment of that name (`environment:<env>`, so the
  environment's protection rules decide who applies), which plans (with refresh) and applies the stacks on a push;
  `plan_role`, trusted by the repository's pull requests (`pull_request`), which only reads: AWS's ReadOnlyAccess
  and its states, no secret values and no lock, so pull request plans run `terraform plan -refresh=false
  -lock=false` (a pull request's workflow is the branch's own: anyone who may push a branch controls it);
  `drift_role`, trusted only by the drift branch's ref (`ref:refs/heads/<production's branch>`, where GitHub runs
  the schedule), which reads like the plan role and may also read this environment's secret values, since a
  drift check must refresh and refreshing a secret version reads it. Only reviewed code reaches that branch.

Its own state starts on local disk (the bucket it names does not exist yet) and moves into the bucket it made:
README.md beside it gives the commands, and `bootstrap_readme` writes them.
"""

from __future__ import annotations

from bizinfra.artifacts import Artifact, json_file, text_file
from bizinfra.plan import BOOTSTRAP_STACK, MANAGED_BY, OUTPUT_FOLDER, EnvironmentPlan, PlatformPlan, state_key
from bizinfra.targets.terraform.blocks import (
    Block,
    condition,
    iam_document,
    managed_policy,
    merge,
    output,
    policy_document,
    principal,
    stack_arn,
    statement,
    variable,
)
from bizinfra.targets.terraform.deploy import AUDIENCE, GITHUB_ISSUER
from bizinfra.targets.terraform.handles import ACCOUNT, PARTITION, Resource
from bizinfra.targets.terraform.settings import terraform_block

FOLDER = f"terraform/{BOOTSTRAP_STACK}"
STATE_BUCKET = Resource("aws_s3_bucket", "state")
GITHUB_PROVIDER = Resource("aws_iam_openid_connect_provider", "github")
NONCURRENT_STATE_DAYS = 90  # earlier versions of a state, kept to recover from a bad apply
# What the infrastructure roles may never attach to a role they create: it would make that role, and whoever it
# trusts, more than the stack needs.
ESCALATING_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
# What a stack does to the roles, policies, instance profiles and OIDC providers of its own names (not `iam:*`,
# which would also cover the account's users, groups and password policy were the resources ever widened).
IDENTITY_ACTIONS = ["iam:*Role*", "iam:*Policy*", "iam:*InstanceProfile*", "iam:*OpenIDConnectProvider*", "iam:Tag*",
                    "iam:Untag*"]


def compile_bootstrap(plan: PlatformPlan) -> list[Artifact]:
    """The bootstrap stack's files; none for a platform with no Kubernetes environment (no Terraform at all)."""
    envs = plan.on("kubernetes")
    if not envs:
        return []
    files = {
        "versions.tf.json": terraform_block(state_bucket(envs), state_key(plan.name, BOOTSTRAP_STACK), plan.region),
        "main.tf.json": merge(provider(plan), github_oidc_provider(), bucket(plan, envs)),
        "roles.tf.json": merge(*(infrastructure_roles(env) for env in envs)),
        "outputs.tf.json": outputs(envs),
    }
    return [*(json_file(f"{FOLDER}/{name}", document) for name, document in files.items() if document),
            text_file(f"{FOLDER}/README.md", bootstrap_readme(plan, envs), comment="<!-- {} -->")]


def state_bucket(envs: tuple[EnvironmentPlan, ...]) -> str:
    (bucket_name,) = {env.deploy.state_bucket for env in envs}  # one per platform
    return bucket_name


def provider(plan: PlatformPlan) -> Block:
    # Environment `bootstrap` on everything here: the infrastructure roles may not touch a resource tagged with
    # an environment other than their own, so this stack is out of every environment's reach.
    return merge(
        {"provider": {"aws": {"region": plan.region, "default_tags": {"tags": {
            "Platform": plan.name, "Environment": BOOTSTRAP_STACK, "ManagedBy": MANAGED_BY, "Spec": plan.source,
        }}}}},
        ACCOUNT.declare({}),
        PARTITION.declare({}),
    )


def github_oidc_provider() -> Block:
    """IAM holds one provider per issuer URL per account: a second platform in the same account sets the variable
    false. The roles trust it by its ARN, which the account and the URL fix, so nothing looks it up."""
    return merge(
        variable("create_github_oidc_provider", "bool",
                 "Whether this stack creates the account's GitHub Actions OIDC provider: false where the account "
                 "already has it (another platform's bootstrap made it; IAM allows one per URL).", True),
        # Since July 2023 IAM trusts GitHub's issuer through its own root CAs and ignores the thumbprint; the
        # attribute is optional (and computed) in both provider schemas, so none is pinned here.
        GITHUB_PROVIDER.declare({
            "count": "${var.create_github_oidc_provider ? 1 : 0}",
            "url": f"https://{GITHUB_ISSUER}",
            "client_id_list": [AUDIENCE],
        }),
    )


def github_provider_arn() -> str:
    return stack_arn("iam", f"oidc-provider/{GITHUB_ISSUER}", account=ACCOUNT.ref("account_id"))


def bucket(plan: PlatformPlan, envs: tuple[EnvironmentPlan, ...]) -> Block:
    name = state_bucket(envs)
    bucket_id, arn = STATE_BUCKET.ref("id"), STATE_BUCKET.ref("arn")
    public_access = Resource("aws_s3_bucket_public_access_block", "state")
    versioning = Resource("aws_s3_bucket_versioning", "state")
    policy = iam_document("state_bucket")
    return merge(
        STATE_BUCKET.declare({"bucket": name, "force_destroy": False, "tags": {"Name": name}}),
        Resource("aws_s3_bucket_ownership_controls", "state").declare({
            "bucket": bucket_id, "rule": {"object_ownership": "BucketOwnerEnforced"}}),
        public_access.declare({
            "bucket": bucket_id, "block_public_acls": True, "block_public_policy": True,
            "ignore_public_acls": True, "restrict_public_buckets": True}),
        versioning.declare({"bucket": bucket_id, "versioning_configuration": {"status": "Enabled"}}),
        Resource("aws_s3_bucket_server_side_encryption_configuration", "state").declare({
            "bucket": bucket_id, "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]}),
        Resource("aws_s3_bucket_lifecycle_configuration", "state").declare({
            "bucket": bucket_id,
            "rule": [{
                "id": "old-versions",
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_STATE_DAYS},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }],
            "depends_on": [versioning.address],
        }),
        policy_document(policy, bucket_statements(plan, envs, arn)),
        Resource("aws_s3_bucket_policy", "state").declare({
            "bucket": bucket_id, "policy": policy.ref("json"), "depends_on": [public_access.address]}),
    )


def bucket_statements(plan: PlatformPlan, envs: tuple[EnvironmentPlan, ...], arn: str) -> list[Block]:
    """TLS only; each environment's roles reach their own state and no other, nor this stack's, nor the bucket's
    settings (the roles' own policies cannot say "not the other states": S3 is also what their stacks manage)."""
    statements = [statement(["s3:*"], [arn, f"{arn}/*"], sid="TlsOnly", effect="Deny",
                            principals=[principal("*", "*")],
                            conditions=[condition("Bool", "aws:SecureTransport", ["false"])])]
    roles = {env.name: role_arns(env) for env in envs if env.deploy.subject}
    if not roles:
        return statements
    every_role = sorted(arn_ for arns in roles.values() for arn_ in arns)
    statements.append(statement(["s3:Put*", "s3:Delete*"], [arn], sid="NoRoleChangesTheBucket", effect="Deny",
                                principals=[principal("*", "*")],
                                conditions=[condition("ArnEquals", "aws:PrincipalArn", every_role)]))
    for stack, owner in stack_owners(envs).items():
        others = sorted(arn_ for name, arns in roles.items() if name != owner for arn_ in arns)
        if others:
            statements.append(statement(
                ["s3:*"], [f"{arn}/{plan.name}/{stack}/*"], sid=f"OnlyItsRolesReach{pascal(stack)}State",
                effect="Deny", principals=[principal("*", "*")],
                conditions=[condition("ArnEquals", "aws:PrincipalArn", others)]))
    return statements


def stack_owners(envs: tuple[EnvironmentPlan, ...]) -> dict[str, str]:
    """Each stack's state folder (below the platform's) and the environment whose roles alone reach it: its own,
    and its standby's (`<env>-standby`); the bootstrap's belongs to none."""
    owners = {BOOTSTRAP_STACK: BOOTSTRAP_STACK}
    for env in envs:
        owners[env.name] = env.name
        if env.recovery.standby:
            owners[env.recovery.standby.name] = env.name
    return owners


def role_arns(env: EnvironmentPlan) -> list[str]:
    return [stack_arn("iam", f"role/{role_name}", account=ACCOUNT.ref("account_id"))
            for role_name, _ in trusted_roles(env)]


def trusted_roles(env: EnvironmentPlan) -> list[tuple[str, str]]:
    """(role name, the one OIDC subject it trusts) of each infrastructure role the environment gets."""
    deploy = env.deploy
    pairs = [(deploy.infra_role, deploy.subject), (deploy.plan_role, deploy.pull_request_subject),
             (deploy.drift_role, deploy.drift_subject)]
    return [(role_name, subject) for role_name, subject in pairs if subject]


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def label(env: EnvironmentPlan, role: str) -> str:
    return f"{env.name.replace('-', '_')}_{role}"


def infrastructure_roles(env: EnvironmentPlan) -> Block:
    """The environment's apply role, its pull requests' plan role and, with a drift branch, its drift role; none
    without the repository to trust."""
    if env.deploy.subject is None or env.deploy.pull_request_subject is None:
        return {}
    return merge(apply_role(env), plan_role(env), drift_role(env) if env.deploy.drift_subject else {})


def trust(document_name: str, subject: str) -> Block:
    return policy_document(iam_document(document_name), [statement(
        ["sts:AssumeRoleWithWebIdentity"],
        principals=[principal("Federated", github_provider_arn())],
        conditions=[condition("StringEquals", f"{GITHUB_ISSUER}:aud", [AUDIENCE]),
                    condition("StringEquals", f"{GITHUB_ISSUER}:sub", [subject])],
    )])


def role(env: EnvironmentPlan, kind: str, role_name: str, subject: str, description: str, managed: str,
         statements: list[Block]) -> Block:
    handle, permissions = Resource("aws_iam_role", label(env, kind)), iam_document(label(env, kind))
    return merge(
        trust(f"{label(env, kind)}_trust", subject),
        handle.declare({
            "name": role_name,
            "description": description,
            "assume_role_policy": iam_document(f"{label(env, kind)}_trust").ref("json"),
            "max_session_duration": 3600,
            "depends_on": [GITHUB_PROVIDER.address],  # when this stack creates it
        }),
        Resource("aws_iam_role_policy_attachment", label(env, kind)).declare({
            "role": handle.ref("name"), "policy_arn": managed_policy(managed)}),
        policy_document(permissions, statements),
        Resource("aws_iam_role_policy", label(env, kind)).declare({
            "name": "state-and-scope", "role": handle.ref("id"), "policy": permissions.ref("json")}),
    )


def state_keys(env: EnvironmentPlan) -> list[str]:
    """The environment's states: its stack's, its add-ons stack's and, with a second region, its standby stack's."""
    standby = env.recovery.standby
    return [env.deploy.state_key, env.deploy.addons_state_key, *([standby.state_key] if standby else [])]


def state_objects(env: EnvironmentPlan, suffix: str = "") -> list[str]:
    """The environment's states, or their locks."""
    return [f"{STATE_BUCKET.ref('arn')}/{key}{suffix}" for key in state_keys(env)]


def apply_role(env: EnvironmentPlan) -> Block:
    """AWS's PowerUserAccess (every service but IAM and Organizations) for what the stack manages, IAM only for the
    stack's own names, and nothing tagged with another environment (nor the bootstrap's, tagged `bootstrap`)."""
    account, prefix = ACCOUNT.ref("account_id"), env.qualified_name
    statements = [
        statement(["s3:ListBucket"], [STATE_BUCKET.ref("arn")], sid="FindState"),
        statement(["s3:GetObject", "s3:PutObject"], state_objects(env), sid="ReadAndWriteState"),
        statement(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], state_objects(env, ".tflock"), sid="Lock"),
        statement(IDENTITY_ACTIONS, [stack_arn("iam", f"{kind}/{prefix}-*", account=account)
                              for kind in ("role", "policy", "instance-profile")]
                  + [stack_arn("iam", f"oidc-provider/oidc.eks.{env.region}.amazonaws.com/id/*", account=account)],
                  sid="ItsOwnIdentities"),
        statement(["iam:CreateServiceLinkedRole", "iam:Get*", "iam:List*"], ["*"], sid="ServiceRolesAndReading"),
        statement(["iam:AttachRolePolicy"], ["*"], sid="NoEscalation", effect="Deny",
                  conditions=[condition("ArnLike", "iam:PolicyARN",
                                        [managed_policy(policy) for policy in ESCALATING_POLICIES])]),
        statement(["*"], ["*"], sid="NotOtherEnvironments", effect="Deny", conditions=[
            condition("Null", "aws:ResourceTag/Environment", ["false"]),
            condition("StringNotEquals", "aws:ResourceTag/Environment", own_tags(env))]),
    ]
    return role(env, "infrastructure", env.deploy.infra_role, str(env.deploy.subject),
                f"The infrastructure workflow plans and applies {env.qualified_name} (jobs of {env.deploy.subject})",
                "PowerUserAccess", statements)


def own_tags(env: EnvironmentPlan) -> list[str]:
    """The `Environment` tags of what the environment's stacks make: its standby stack's resources carry the
    standby's name (`<env>-standby`)."""
    standby = env.recovery.standby
    return [env.name, *([standby.name] if standby else [])]


def reading_states(env: EnvironmentPlan) -> list[Block]:
    return [statement(["s3:ListBucket"], [STATE_BUCKET.ref("arn")], sid="FindState"),
            statement(["s3:GetObject"], state_objects(env), sid="ReadState")]


def plan_role(env: EnvironmentPlan) -> Block:
    """Reads only: a pull request's workflow is the branch's own, so anyone who may push a branch controls it."""
    statements = [
        *reading_states(env),
        statement(["secretsmanager:GetSecretValue", "kms:Decrypt"], ["*"], sid="NoSecretValues", effect="Deny"),
    ]
    return role(env, "plan", env.deploy.plan_role, str(env.deploy.pull_request_subject),
                f"Pull requests plan {env.qualified_name} without refreshing (jobs of {env.deploy.pull_request_subject})",
                "ReadOnlyAccess", statements)


def drift_role(env: EnvironmentPlan) -> Block:
    """Reads, secret values included, of this environment only (every resource of its stacks carries its
    `Environment` tag): a refreshing plan reads each secret version it manages. No write, no lock."""
    secrets_manager = f"secretsmanager.{env.region}.amazonaws.com"
    own = condition("StringEquals", "aws:ResourceTag/Environment", [env.name])
    statements = [
        *reading_states(env),
        statement(["secretsmanager:GetSecretValue"], ["*"], sid="ItsSecretValues", conditions=[own]),
        statement(["kms:Decrypt"], ["*"], sid="ItsSecretsKeys",
                  conditions=[own, condition("StringEquals", "kms:ViaService", [secrets_manager])]),
        statement(["secretsmanager:GetSecretValue", "kms:Decrypt"], ["*"], sid="NoOtherSecretValues", effect="Deny",
                  conditions=[condition("StringNotEquals", "aws:ResourceTag/Environment", [env.name])]),
    ]
    return role(env, "drift", env.deploy.drift_role, str(env.deploy.drift_subject),
                f"The daily drift check refreshes {env.qualified_name} (jobs of {env.deploy.drift_subject})",
                "ReadOnlyAccess", statements)


def outputs(envs: tuple[EnvironmentPlan, ...]) -> Block:
    parts = [
        output("state_bucket", STATE_BUCKET.ref("id"), "Every stack's Terraform state, this one's included."),
        output("github_oidc_provider_arn", github_provider_arn(),
               "The account's GitHub Actions OIDC provider, which the deploy and infrastructure roles trust."),
    ]
    for env in envs:
        if env.deploy.subject is None:
            parts.append(output(f"{label(env, 'infrastructure')}_role_arn", "not created: set delivery.repository "
                                "(owner/name) in the spec so the role trusts only that repository's jobs",
                                f"The IAM role the infrastructure workflow applies {env.name} with."))
            continue
        kinds = (("infrastructure", env.deploy.subject), ("plan", env.deploy.pull_request_subject),
                 ("drift", env.deploy.drift_subject))
        for kind, subject in ((kind, subject) for kind, subject in kinds if subject):
            parts.append(output(f"{label(env, kind)}_role_arn", Resource("aws_iam_role", label(env, kind)).ref("arn"),
                                f"The IAM role {subject} jobs assume for {env.name}'s stack."))
    return merge(*parts)


def drift_branch(envs: tuple[EnvironmentPlan, ...]) -> str:
    branch = envs[0].deploy.drift_branch
    return f"`{branch}`, production's branch" if branch else "no branch: no production environment names one"


def bootstrap_readme(plan: PlatformPlan, envs: tuple[EnvironmentPlan, ...]) -> str:
    folder = f"{OUTPUT_FOLDER}/{plan.name}/{FOLDER}"
    bucket_name, key = state_bucket(envs), state_key(plan.name, BOOTSTRAP_STACK)
    stacks = "\n".join(f"terraform -chdir={OUTPUT_FOLDER}/{plan.name}/terraform/{env.name} init"
                       for env in envs)
    return f"""# {plan.name}: the bootstrap stack

Run once per platform, before any environment's stack, with administrator credentials for the account
(`aws sts get-caller-identity` shows whose). It makes the state bucket `{bucket_name}` in {plan.region}, the
account's GitHub Actions OIDC provider and each environment's infrastructure roles. Its own state starts
on this disk, because the bucket its backend names does not exist yet, then moves into that bucket
(`{key}`). From the repository's root:

```sh
cd {folder}
# 1. Apply with the state kept locally: an override file replaces the S3 backend for this run only.
printf '{{"terraform": {{"backend": {{"local": {{}}}}}}}}\\n' > local_override.tf.json
terraform init
terraform apply
# 2. Move the state into the bucket it made; without the override the S3 backend applies again.
rm local_override.tf.json
terraform init -migrate-state -force-copy
rm -f terraform.tfstate terraform.tfstate.backup
cd -
```

If the account already has GitHub's OIDC provider (another platform's bootstrap made it), add
`-var create_github_oidc_provider=false` to `terraform apply`. The outputs name the roles the
infrastructure workflow assumes: `<environment>_infrastructure_role_arn` (jobs of the GitHub environment
of that name plan and apply on a push), `<environment>_plan_role_arn` (pull requests plan with
`terraform plan -refresh=false -lock=false`: the role reads no secret values and takes no lock) and
`<environment>_drift_role_arn` (the daily drift check on {drift_branch(envs)}: reads, this environment's
secret values included, takes no lock).

Every environment's stack then keeps its state in the bucket with no flags:

```sh
{stacks}
```

The bucket is never destroyed with anything in it; to remove the platform, destroy every environment's
stack, move this state back (step 1's override, then `terraform init -migrate-state -force-copy`), empty
the bucket and destroy this stack.
"""
