"""pydantic-ai agents: instructions, typed output models, model selection and the offline model.

Every agent is durable (`PrefectDurability`): run inside a flow, each model request and tool call
is a Prefect task. Agents are built by factories keyed on the model spec, never passed as flow
parameters.
"""
